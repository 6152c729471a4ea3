"""``tlsmgm inspect``: what OpenSIPS's ``$tls_*`` variables would hold for certificates."""

from __future__ import annotations

import datetime as dt
import glob
import sys
from typing import Any

import click

from tlsmgm_cli import exitcodes
from tlsmgm_cli.cli.options import config_options, format_option, seconds_type

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


def _live_target(item: str) -> tuple[tuple[str, int] | None, str | None]:
    """(``(host, port)``, None) when ``item`` names a server rather than a file:
    ``HOST:PORT`` with a numeric port, or ``[IPv6]:PORT``. (None, why) when it looks like
    one but is not valid; (None, None) when it is a file name. An existing file of that
    name wins (the caller checks); anything with a path separator is a file."""
    from tlsmgm_cli.core.tls.handshake import split_target

    if "/" in item or "\\" in item or ":" not in item or "*" in item or "?" in item:
        return None, None
    try:
        return split_target(item), None
    except ValueError as err:
        return None, f"{item}: no such file, and not HOST:PORT either ({err})"


def _expand(inputs: tuple[str, ...]) -> tuple[list[tuple[str, str | None, tuple[str, int] | None]], bool]:
    """((source, error, live target) triples, whether any input was meant as HOST:PORT):
    globs expanded in sorted order (a glob matching nothing is an error); ``HOST:PORT``
    that is not an existing file is a live target."""
    import os

    out: list[tuple[str, str | None, tuple[str, int] | None]] = []
    live = False
    for item in inputs:
        target, bad = (None, None) if item == "-" or os.path.lexists(item) else _live_target(item)
        if target is not None or bad is not None:
            out.append((item, bad, target))
            live = True
        elif item != "-" and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item))
            out += [(m, None, None) for m in matches] or [(item, f"{item}: no file matches this pattern", None)]
        else:
            out.append((item, None, None))
    return out, live


def _domain_store(config: str, preprocessor: str | None, cfg_dir: str, opensips_version: str, name: str,
                  side: str | None, ca: tuple[str, ...], crl: tuple[str, ...], crl_check_all: bool):
    """The trust store and purpose of a configured domain (plus any --ca/--crl)."""
    from tlsmgm_cli.cli.common import load_domset_or_exit, verbose
    from tlsmgm_cli.core.x509.truststore import build_trust_store, verify_as_peer_of

    domset = load_domset_or_exit(config, preprocessor=preprocessor, cfg_dir=cfg_dir,
                                 opensips_version=opensips_version, fail_on_error=False)
    domain = domset.find(name, side)
    if domain is None:
        raise click.UsageError(f"no TLS domain named {name!r} in {config}")
    sources, purpose = verify_as_peer_of(domain, ca, crl, crl_check_all)
    verbose(f"verifying as {domain.side} domain [{domain.name}]: CAs from {sources.described()}; "
            f"CRLs from {', '.join(sources.crls) or 'nothing'}")
    return build_trust_store(sources), purpose, domain


def _p12_password(password_file: str | None) -> bytes | None:
    """The PKCS#12 password: the first line of --password-file, else $TLSMGM_P12_PASSWORD
    (never a command-line argument, which other users can see in ps)."""
    import os

    from tlsmgm_cli.core.limits import SETTINGS_MAX_BYTES
    from tlsmgm_cli.core.util.safeio import UnsafeInput, read_bytes_limited

    if password_file is not None:
        try:
            data = read_bytes_limited(password_file, limit=SETTINGS_MAX_BYTES, what="password file")
        except UnsafeInput as err:
            raise click.BadParameter(str(err), param_hint="--password-file") from None
        return data.split(b"\n", 1)[0].rstrip(b"\r")
    env = os.environ.get("TLSMGM_P12_PASSWORD")
    return env.encode() if env is not None else None


def _items(source: str, loaded: list, prefix: str, store, at: dt.datetime, purpose: str | None,
           true_serial: bool, text: bool, domain: Any = None) -> list[dict[str, Any]]:
    """One inspected item per certificate of ``loaded`` (a file's, or a server's chain);
    with ``domain`` (--domain), as that domain's connections would show it."""
    from tlsmgm_cli.core.x509.facts import cert_facts
    from tlsmgm_cli.core.x509.tlsvars import PEER, cert_vars, no_cert_vars
    from tlsmgm_cli.core.x509.truststore import peer_view
    from tlsmgm_cli.core.x509.verify import verify_bundle

    # the peer presents each certificate followed by the rest of the file (or chain)
    results = verify_bundle([c.cert for c in loaded], store, at=at, purpose=purpose) if prefix == PEER else None
    items = []
    for item in loaded:
        extra: dict[str, Any] = {}
        code = None
        if results is not None:
            result = results[item.index]
            code = result.code
            extra["verify"] = result.to_dict()
        extra.update(cert_facts(item.cert, item.der, source, item.index, at, true_serial))
        values = cert_vars(item.der, prefix, code)
        if domain is not None and prefix == PEER:
            hidden, note = peer_view(domain, code, extra["verify"]["text"] if "verify" in extra else "")
            if hidden:
                values = no_cert_vars(PEER)
            if note:
                extra["opensips_note"] = note
        entry: dict[str, Any] = {"source": source, "index": item.index, "vars": values, "extra": extra}
        if text:
            from tlsmgm_cli.core.x509.text import x509_text

            entry["x509"] = x509_text(item.cert, item.der)
        items.append(entry)
    return items


def _inspect_source(source: str, stdin: bytes | None, prefix: str, store, at: dt.datetime,
                    purpose: str | None, true_serial: bool, password: bytes | None = None,
                    text: bool = False, domain: Any = None) -> list[dict[str, Any]]:
    from tlsmgm_cli.core.x509.load import load_certificates, read_certificate_file

    loaded = load_certificates(stdin or b"", "-", password) if source == "-" \
        else read_certificate_file(source, password)
    return _items(source, loaded, prefix, store, at, purpose, true_serial, text, domain)


def _inspect_live(source: str, host: str, port: int, sni: str | None, timeout: float, prefix: str, store,
                  at: dt.datetime, purpose: str | None, true_serial: bool, text: bool,
                  domain: Any = None) -> list[dict[str, Any]]:
    """The chain a server presents, shown like a file's (raises LiveChainError)."""
    from tlsmgm_cli.core.tls.livechain import fetch_live_chain, openssl_live_command

    live = fetch_live_chain(source, host, port, sni, timeout)
    items = _items(source, live.certs, prefix, store, at, purpose, true_serial, text, domain)
    for item in items:
        item["extra"].update({"address": live.address, "sni": sni, "tls_version": live.version,
                              "openssl_command": openssl_live_command(host, port, sni, item["index"])})
    return items


@click.command("inspect")
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|GLOB|HOST:PORT|-...")
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
@click.option("--password-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="PKCS#12 input: read its password from the first line of FILE (or set "
                   "TLSMGM_P12_PASSWORD; never given as an argument).")
@click.option("--true-serial", is_flag=True, help="Also show the real serial number in hex and decimal.")
@click.option("--text", "x509_text", is_flag=True,
              help="Also decode the whole certificate as 'openssl x509 -text' shows it: version, "
                   "serial, algorithms, names, validity, public key, fingerprints and every "
                   "extension (text: a second section; JSON/YAML: an \"x509\" object).")
@click.option("--sni", metavar="NAME",
              help="HOST:PORT inputs: send NAME as the TLS server name, byte for byte (default: "
                   "no SNI, as OpenSIPS's client side sends none).")
@click.option("--timeout", type=seconds_type(3600), default=None, metavar="SECONDS",
              help="HOST:PORT inputs: give up on a server after SECONDS (connect + TLS handshake; "
                   "default 10).")
@format_option(["text", "xlog", "json", "yaml"])
@click.option("--var", "var_name", metavar="NAME",
              help="Print only this variable's raw value (e.g. tls_peer_subject_cn), one line per "
                   "certificate. A NULL prints nothing and makes the exit status 1.")
def inspect_cmd(inputs: tuple[str, ...], prefix: str, ca: tuple[str, ...], crl: tuple[str, ...],
                crl_check_all: bool, at_text: str | None, config: str, preprocessor: str | None,
                cfg_dir: str, opensips_version: str, domain: str | None, side: str | None,
                true_serial: bool, password_file: str | None, x509_text: bool, sni: str | None,
                timeout: float | None, fmt: str, var_name: str | None) -> None:
    """Show certificate fields as OpenSIPS's $tls_* variables, from files or a live server.

    Prints, byte for byte, what OpenSIPS 3.6.8 with OpenSSL 3 puts in $tls_peer_* (or
    $tls_my_* with --as my) for each certificate of the given files: PEM (every
    certificate of a bundle), DER, PKCS#7 or PKCS#12 (password from --password-file
    or TLSMGM_P12_PASSWORD); '-' reads standard input. A certificate whose key
    algorithm is unknown is shown all the same (key type as its OID).

    HOST:PORT (or [IPv6]:PORT) reads the chain a running TLS server presents instead: one
    handshake, nothing verified, --sni sent exactly as given (default none), within
    --timeout seconds (default 10). Its certificates are shown like a file's, the leaf
    first, so $tls_peer_* is what OpenSIPS would see connecting there. An existing file
    of that name is read as a file.

    --text adds every field and extension decoded as 'openssl x509 -text' shows it
    (key usage, extended key usage, all SAN kinds, key identifiers, CRL distribution
    points, OCSP/CA issuers, policies, basic and name constraints, CT SCTs; unknown
    or undecodable extensions as OID, critical flag and hex).

    The flags $tls_peer_verified/revoked/expired/selfsigned are the single verify result
    OpenSSL would store for a peer presenting the certificate followed by the rest of its
    file, against --ca/--crl (or a configured domain's settings with -c CFG --domain NAME)
    with verify depth 3. Without any CA nothing is trusted. With --domain the values are
    those of that domain's connections: a server domain with verify_cert=0 asks for no
    client certificate (every $tls_peer_* <null>), and a domain with verify_cert=1 aborts
    the handshake on a failed verification (said in a note).

    \b
    Examples:
      tlsmgm inspect client.pem --ca ca.pem
      tlsmgm inspect 'certs/*.pem' -f json
      tlsmgm inspect client.pem -c opensips.cfg --domain sips --var tls_peer_verified
      tlsmgm inspect server.pem --text
      tlsmgm inspect sip.example.com:5061 --sni sip.example.com --text
      tlsmgm inspect '[2001:db8::1]:5061' --ca ca.pem -f json

    Exit status: 0 ok, 1 a file or server could not be inspected (or --var hit a NULL),
    2 usage error.
    """
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.limits import INSPECT_LIVE_TIMEOUT_S
    from tlsmgm_cli.core.tls.livechain import LiveChainError
    from tlsmgm_cli.core.x509.der import DerError
    from tlsmgm_cli.core.x509.load import MAX_INPUT_BYTES, CertLoadError
    from tlsmgm_cli.core.x509.tlsvars import cert_var_names
    from tlsmgm_cli.core.x509.truststore import build_trust_store, option_sources
    from tlsmgm_cli.render import echo_err
    from tlsmgm_cli.render.inspect import RENDERERS, render_var
    from tlsmgm_cli.render.progress import progress_bar
    from tlsmgm_cli.render.safe import visible

    at = _parse_at(at_text)
    password = _p12_password(password_file)
    if x509_text and var_name is not None:
        raise click.UsageError("--text and --var do not go together (--var prints one raw value)")
    sources, live_inputs = _expand(inputs)
    if not live_inputs:
        for name, given in (("--sni", sni is not None), ("--timeout", timeout is not None)):
            if given:
                raise click.UsageError(f"{name} applies to HOST:PORT inputs only (none was given)")
    if sni is not None:
        from tlsmgm_cli.core.tls.handshake import sni_problem

        problem = sni_problem(sni)
        if problem:
            raise click.BadParameter(problem, param_hint="--sni")
    timeout = INSPECT_LIVE_TIMEOUT_S if timeout is None else timeout
    if var_name is not None:
        var_name = var_name.lstrip("$")
        if var_name not in cert_var_names(prefix):
            raise click.BadParameter(f"{var_name!r} is not a certificate variable for --as {prefix} "
                                     f"(e.g. tls_{prefix}_subject_cn)", param_hint="--var")
    try:
        the_domain = None
        if domain:
            store, purpose, the_domain = _domain_store(config, preprocessor, cfg_dir, opensips_version, domain,
                                                       side, ca, crl, crl_check_all)
        else:
            store, purpose = build_trust_store(option_sources(ca, crl, crl_check_all)), None
    except TlsmgmError as err:
        raise click.UsageError(str(err)) from None

    stdin = sys.stdin.buffer.read(MAX_INPUT_BYTES + 1) if "-" in inputs else None
    items: list[dict[str, Any]] = []
    problems: list[str] = []  # printed after the progress bar, which click's stderr would garble
    human = fmt in HUMAN_FORMATS and var_name is None
    with progress_bar("inspecting files", len(sources), human=human) as advance:
        for done, (source, problem, target) in enumerate(sources):
            if advance:
                advance(done)  # the files finished before this one
            if problem:
                problems.append(problem)
                continue
            try:
                if target is not None:
                    items += _inspect_live(source, target[0], target[1], sni, timeout, prefix, store, at,
                                           purpose, true_serial, x509_text, the_domain)
                else:
                    items += _inspect_source(source, stdin, prefix, store, at, purpose, true_serial, password,
                                             x509_text, the_domain)
            except LiveChainError as err:
                problems.append(f"{source}: {err}")
            except (CertLoadError, DerError) as err:
                problems.append(str(err) if isinstance(err, CertLoadError) else f"{source}: {err}")
    for problem in problems:
        echo_err(f"tlsmgm: error: {visible(problem)}")
    failed = bool(problems)
    if var_name is not None:
        if not render_var(items, var_name):
            failed = True
    elif items:
        RENDERERS[fmt](items)
    elif fmt == "json":
        RENDERERS[fmt](items)
    if failed:
        exitcodes.reached(exitcodes.PROBLEMS)
        raise click.exceptions.Exit(exitcodes.PROBLEMS)
