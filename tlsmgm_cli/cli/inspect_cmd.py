"""``tlsmgm inspect``: what OpenSIPS's ``$tls_*`` variables would hold for certificates."""

from __future__ import annotations

import datetime as dt
import glob
import sys
from typing import Any

import click

from tlsmgm_cli.cli.options import config_options, format_option

_GLOB_CHARS = set("*?[")
HUMAN_FORMATS = ("text", "xlog")  # formats read by people: a progress bar may accompany them


def _parse_at(text: str | None) -> dt.datetime:
    if not text:
        return dt.datetime.now(dt.timezone.utc)
    try:
        when = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date/time like 2026-01-05 or 2026-01-05T09:03:07Z",
                                 param_hint="--at") from None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def _expand(inputs: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """(source, error) pairs: globs expanded in sorted order; a glob matching nothing is an error."""
    out: list[tuple[str, str | None]] = []
    for item in inputs:
        if item != "-" and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item))
            out += [(m, None) for m in matches] or [(item, f"{item}: no file matches this pattern")]
        else:
            out.append((item, None))
    return out


def _domain_store(config: str, preprocessor: str | None, cfg_dir: str, opensips_version: str, name: str,
                  side: str | None, ca: tuple[str, ...], crl: tuple[str, ...], crl_check_all: bool):
    """The trust store and purpose of a configured domain (plus any --ca/--crl)."""
    from tlsmgm_cli.cli.common import load_domset_or_exit, verbose
    from tlsmgm_cli.core.domain import SERVER
    from tlsmgm_cli.core.verify import PURPOSE_SSL_CLIENT, PURPOSE_SSL_SERVER, build_store

    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, fail_on_error=False)
    domain = domset.find(name, side)
    if domain is None:
        raise click.UsageError(f"no TLS domain named {name!r} in {config}")
    ca_files = list(ca)
    ca_pem = None
    if domain.ca_list:
        if domain.file_is_content("ca_list"):
            ca_pem = domain.ca_list.encode()
        else:
            ca_files.insert(0, domain.ca_list)
    crls = ([domain.crl_dir] if domain.crl_dir else []) + list(crl)
    trusted = (["ca_list (PEM in the DB row)"] if ca_pem else []) + ca_files + [domain.eff_ca_dir]
    verbose(f"verifying as {domain.side} domain [{domain.name}]: CAs from {', '.join(trusted)}; "
            f"CRLs from {', '.join(crls) or 'nothing'}")
    store = build_store([*ca_files, domain.eff_ca_dir], crls, crl_check_all or domain.eff_crl_check_all,
                        ca_pem=ca_pem)
    return store, (PURPOSE_SSL_CLIENT if domain.side == SERVER else PURPOSE_SSL_SERVER)


def _inspect_source(source: str, stdin: bytes | None, prefix: str, store, at: dt.datetime,
                    purpose: str | None, true_serial: bool) -> list[dict[str, Any]]:
    from tlsmgm_cli.core.certfacts import cert_facts
    from tlsmgm_cli.core.certload import load_certificates, read_certificate_file
    from tlsmgm_cli.core.tlsvars import PEER, cert_vars
    from tlsmgm_cli.core.verify import verify_peer

    loaded = load_certificates(stdin or b"", "-") if source == "-" else read_certificate_file(source)
    items = []
    for item in loaded:
        extra: dict[str, Any] = {}
        code = None
        if prefix == PEER:
            # the peer presents this certificate followed by the rest of the file
            result = verify_peer([c.cert for c in loaded[item.index:]], store, at=at, purpose=purpose)
            code = result.code
            extra["verify"] = result.to_dict()
        extra.update(cert_facts(item.cert, item.der, source, item.index, at, true_serial))
        items.append({"source": source, "index": item.index, "vars": cert_vars(item.der, prefix, code),
                      "extra": extra})
    return items


@click.command("inspect")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|GLOB|-...")
@click.option("--as", "prefix", type=click.Choice(["peer", "my"]), default="peer", show_default=True,
              help="Name the variables $tls_peer_* (the other side's certificate) or $tls_my_*.")
@click.option("--ca", multiple=True, metavar="FILE|DIR",
              help="Trusted CAs: a PEM file (like ca_list) or a hashed directory (like ca_dir). Repeatable.")
@click.option("--crl", multiple=True, metavar="FILE|DIR",
              help="CRLs: a file, or a directory read like crl_dir (turns CRL checking on). Repeatable.")
@click.option("--crl-check-all", is_flag=True, help="Check CRLs for the whole chain, not just the leaf.")
@click.option("--at", "at_text", metavar="DATETIME",
              help="Verify as of this time (ISO 8601, UTC unless an offset is given). Default: now.")
@config_options
@click.option("--domain", metavar="NAME",
              help="Take ca_list, ca_dir, crl_dir and crl_check_all from this domain of -c CFG.")
@click.option("--side", type=click.Choice(["server", "client"]),
              help="With --domain: which domain when a server and a client domain share the name.")
@click.option("--true-serial", is_flag=True, help="Also show the real serial number in hex and decimal.")
@format_option(["text", "xlog", "json", "yaml"])
@click.option("--var", "var_name", metavar="NAME",
              help="Print only this variable's raw value (e.g. tls_peer_subject_cn), one line per "
                   "certificate. A NULL prints nothing and makes the exit status 1.")
def inspect_cmd(inputs: tuple[str, ...], prefix: str, ca: tuple[str, ...], crl: tuple[str, ...],
                crl_check_all: bool, at_text: str | None, config: str, preprocessor: str | None,
                cfg_dir: str, opensips_version: str, domain: str | None, side: str | None,
                true_serial: bool, fmt: str, var_name: str | None) -> None:
    """Show certificate fields as OpenSIPS's $tls_* variables.

    Prints, byte for byte, what OpenSIPS 3.6.8 with OpenSSL 3 puts in $tls_peer_* (or
    $tls_my_* with --as my) for each certificate of the given files: PEM (every
    certificate of a bundle), DER or PKCS#7; '-' reads standard input.

    The flags $tls_peer_verified/revoked/expired/selfsigned are the single verify result
    OpenSSL would store for a peer presenting the certificate followed by the rest of its
    file, against --ca/--crl (or a configured domain's settings with -c CFG --domain NAME)
    with verify depth 3. Without any CA nothing is trusted.

    \b
    Examples:
      tlsmgm inspect client.pem --ca ca.pem
      tlsmgm inspect 'certs/*.pem' -f json
      tlsmgm inspect client.pem -c opensips.cfg --domain sips --var tls_peer_verified

    Exit status: 0 ok, 1 a file could not be inspected (or --var hit a NULL), 2 usage error.
    """
    from tlsmgm_cli.core.certload import MAX_INPUT_BYTES, CertLoadError
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.tlsvars import DerError, cert_var_names
    from tlsmgm_cli.core.verify import build_store
    from tlsmgm_cli.render import echo_err
    from tlsmgm_cli.render.inspect import RENDERERS, render_var
    from tlsmgm_cli.render.progress import progress_bar

    at = _parse_at(at_text)
    if var_name is not None:
        var_name = var_name.lstrip("$")
        if var_name not in cert_var_names(prefix):
            raise click.BadParameter(f"{var_name!r} is not a certificate variable for --as {prefix} "
                                     f"(e.g. tls_{prefix}_subject_cn)", param_hint="--var")
    try:
        if domain:
            store, purpose = _domain_store(config, preprocessor, cfg_dir, opensips_version, domain, side,
                                           ca, crl, crl_check_all)
        else:
            store, purpose = build_store(list(ca), list(crl), crl_check_all), None
    except TlsmgmError as err:
        raise click.UsageError(str(err)) from None

    stdin = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1) if "-" in inputs else None
    items: list[dict[str, Any]] = []
    problems: list[str] = []  # printed after the progress bar, which click's stderr would garble
    sources = _expand(inputs)
    human = fmt in HUMAN_FORMATS and var_name is None
    with progress_bar("inspecting files", len(sources), human=human) as advance:
        for done, (source, problem) in enumerate(sources):
            if advance:
                advance(done)  # the files finished before this one
            if problem:
                problems.append(problem)
                continue
            try:
                items += _inspect_source(source, stdin, prefix, store, at, purpose, true_serial)
            except (CertLoadError, DerError) as err:
                problems.append(str(err) if isinstance(err, CertLoadError) else f"{source}: {err}")
    for problem in problems:
        echo_err(f"tlsmgm: error: {problem}")
    failed = bool(problems)
    if var_name is not None:
        if not render_var(items, var_name):
            failed = True
    elif items:
        RENDERERS[fmt](items)
    elif fmt == "json":
        RENDERERS[fmt](items)
    if failed:
        raise click.exceptions.Exit(1)
