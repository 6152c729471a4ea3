"""tlsmgm gen ca | cert | crl."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from tlsmgm_cli.cli.options import format_option
from tlsmgm_cli.core.limits import GEN_DAYS_MAX, RSA_BITS_MAX, RSA_BITS_MIN

CA_CERT = "ca.crt"
CA_KEY = "ca.key"
CRL_FILE = "crl.pem"
CRL_DIR = "crl"


def _out_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--out", "-o", "out", required=True, metavar="DIR",
                        type=click.Path(file_okay=False, path_type=Path),
                        help="Directory to write into (created if missing).")(fn)


def _force_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--force", is_flag=True, help=help_text)


def _ca_dir_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--ca-dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
                        help=f"Directory holding the signing {CA_CERT} and {CA_KEY} [default: --out].")(fn)


def _key_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option("--rsa", "rsa_bits", type=click.IntRange(min=RSA_BITS_MIN, max=RSA_BITS_MAX),
                      metavar="BITS",
                      help=f"An RSA key of BITS bits ({RSA_BITS_MIN}-{RSA_BITS_MAX}) instead of EC.")(fn)
    fn = click.option("--ec", "ec_curve", is_flag=False, flag_value="P-256", metavar="[CURVE]",
                      help="An EC key on CURVE: P-256 (the default, also without --ec), P-384, P-521.")(fn)
    return fn


def _days_option(default: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--days", type=click.IntRange(min=1, max=GEN_DAYS_MAX), default=default,
                        show_default=True, help=f"Validity in days (1-{GEN_DAYS_MAX}).")


# the longest file name (NAME_MAX of Linux and the BSDs): NAME.crt must fit
NAME_MAX_BYTES = 255
# X.509 upper bound of a commonName (RFC 5280 ub-common-name)
CN_MAX_CHARS = 64


def _cn(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """--cn: 1 to 64 characters, valid UTF-8, no control characters."""
    from tlsmgm_cli.render.safe import has_control, not_utf8, visible

    if value is None:
        return None
    if not_utf8(value):
        raise click.BadParameter(f"'{visible(value)}' is not valid UTF-8", param_hint="--cn")
    if not value:
        raise click.BadParameter("the common name cannot be empty", param_hint="--cn")
    if len(value) > CN_MAX_CHARS:
        raise click.BadParameter(f"the common name is {len(value)} characters long; X.509 allows at "
                                 f"most {CN_MAX_CHARS}", param_hint="--cn")
    if has_control(value):
        raise click.BadParameter("the common name holds control characters", param_hint="--cn")
    return value


def _sans(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """--san: each one parsed now, so a bad one is a usage error before any key is made."""
    from tlsmgm_cli.core.errors import TlsmgmError
    from tlsmgm_cli.core.x509.certgen import parse_san

    for value in values:
        try:
            parse_san(value)
        except TlsmgmError as err:
            raise click.BadParameter(str(err), param_hint="--san") from None
    return values


def _key_choice(ec_curve: str | None, rsa_bits: int | None) -> dict[str, Any]:
    """make_ca/make_cert keyword arguments for --ec/--rsa."""
    from tlsmgm_cli.core.x509.certgen import CURVES, DEFAULT_CURVE

    if ec_curve and rsa_bits:
        raise click.UsageError("--ec and --rsa are mutually exclusive")
    if rsa_bits:
        return {"key": "rsa", "bits": rsa_bits}
    curve = ec_curve or DEFAULT_CURVE
    if curve not in CURVES:
        raise click.BadParameter(f"{curve!r} is not one of P-256, P-384, P-521", param_hint="--ec")
    return {"key": "ec", "curve": curve}


def _file_name(name: str) -> str:
    from tlsmgm_cli.render.safe import has_control, not_utf8, visible

    if not_utf8(name):
        raise click.BadParameter(f"'{visible(name)}' is not valid UTF-8", param_hint="NAME")
    if not name or name.startswith(".") or "/" in name or "\\" in name or has_control(name):
        raise click.BadParameter(f"'{visible(name)}' must be a plain file name (no '/', no control characters, not starting with '.')",
                                 param_hint="NAME")
    size = len(os.fsencode(name + ".crt"))
    if size > NAME_MAX_BYTES:
        raise click.BadParameter(f"'{visible(name[:40])}...' is too long: NAME.crt would be a file name of "
                                 f"{size} bytes; file systems allow at most {NAME_MAX_BYTES}", param_hint="NAME")
    return name


def _load_ca(ca_dir: Path):
    from tlsmgm_cli.core.errors import UsageError
    from tlsmgm_cli.core.x509.certgen import lexists, load_issued

    cert_path, key_path = ca_dir / CA_CERT, ca_dir / CA_KEY
    for path in (cert_path, key_path):
        if not lexists(path):  # a device or loop: load_issued says what
            raise UsageError(f"{path} not found (create a CA first: tlsmgm gen ca --out {ca_dir})")
    return load_issued(cert_path, key_path)


@click.group("gen")
def gen_group() -> None:
    """Generate a test CA, certificates and CRLs.

    Test PKI material for TLS domains: a CA that is really a CA (basicConstraints CA:TRUE,
    keyCertSign), leaf certificates with their own key and a subjectAltName, and CRLs with a
    hashed directory usable as tls_mgm's crl_dir. Keys are written mode 0600; every file is
    written atomically and never overwritten without --force.

    \b
    Examples:
      tlsmgm gen ca --out pki
      tlsmgm gen cert server --out pki --cn atlanta.com --san DNS:atlanta.com --san IP:10.0.0.1
      tlsmgm gen cert alice --out pki --client --san URI:sip:alice@atlanta.com
      tlsmgm gen crl --out pki --revoke 0x3001
    """


@gen_group.command("ca")
@_out_option
@click.option("--cn", default="tlsmgm test CA", show_default=True, callback=_cn,
              help="The CA's common name (at most 64 characters).")
@_key_options
@_days_option(3650)
@_force_option("Overwrite an existing ca.crt/ca.key.")
@format_option(["text", "json"])
def gen_ca(out: Path, cn: str, ec_curve: str | None, rsa_bits: int | None, days: int, force: bool,
           fmt: str) -> None:
    """Create a self-signed test CA (ca.crt, ca.key).

    Writes DIR/ca.crt and DIR/ca.key (mode 0600).

    \b
    Example:
      tlsmgm gen ca --out pki --cn "Example test CA" --rsa 3072
    """
    from tlsmgm_cli.core.x509.certgen import check_targets, issued_paths, make_ca
    from tlsmgm_cli.render.gen import render_issued

    check_targets(issued_paths(out, "ca"), force=force)  # before a key generation of minutes (RSA 16384)
    ca = make_ca(cn, days=days, **_key_choice(ec_curve, rsa_bits))
    cert_path, key_path = ca.write(out, "ca", force=force)
    render_issued(ca.cert, cert_path, key_path, fmt)


@gen_group.command("cert")
@click.argument("name", callback=lambda _ctx, _param, value: _file_name(value))
@_out_option
@_ca_dir_option
@click.option("--cn", metavar="CN", callback=_cn,
              help="Subject common name, at most 64 characters [default: NAME].")
@click.option("--san", "sans", multiple=True, metavar="SAN", callback=_sans,
              help="A subjectAltName (repeatable): DNS:host, IP:addr, URI:sip:u@host, email:a@b, or a "
                   "bare host name or IP address [default: the CN].")
@click.option("--server", is_flag=True, help="serverAuth extended key usage (the default).")
@click.option("--client", is_flag=True, help="clientAuth extended key usage (with --server: both).")
@_key_options
@_days_option(825)
@_force_option("Overwrite existing NAME.crt/NAME.key.")
@format_option(["text", "json"])
def gen_cert(name: str, out: Path, ca_dir: Path | None, cn: str | None, sans: tuple[str, ...],
             server: bool, client: bool, ec_curve: str | None, rsa_bits: int | None, days: int,
             force: bool, fmt: str) -> None:
    """Create a leaf certificate signed by the CA.

    Writes DIR/NAME.crt and DIR/NAME.key (mode 0600), signed with CA_DIR/ca.crt and ca.key.

    The certificate carries its own key, basicConstraints CA:FALSE, keyUsage
    digitalSignature (+keyEncipherment for RSA), and always a subjectAltName.

    \b
    Examples:
      tlsmgm gen cert server --out pki --cn atlanta.com --san atlanta.com --san IP:10.0.0.1
      tlsmgm gen cert gw --out certs --ca-dir pki --server --client --rsa 2048
    """
    from tlsmgm_cli.core.x509.certgen import check_targets, issued_paths, make_cert
    from tlsmgm_cli.render.gen import render_issued

    key_kwargs = _key_choice(ec_curve, rsa_bits)
    if name == "ca" and (ca_dir is None or ca_dir.resolve() == out.resolve()):
        raise click.BadParameter("'ca' would replace the CA's own files; choose another NAME",
                                 param_hint="NAME")
    ca = _load_ca(ca_dir or out)
    check_targets(issued_paths(out, name), force=force)  # before the key is generated
    issued = make_cert(ca, cn or name, sans=list(sans), server=server or not client, client=client,
                       days=days, **key_kwargs)
    cert_path, key_path = issued.write(out, name, force=force)
    render_issued(issued.cert, cert_path, key_path, fmt)


# RFC 5280: a serial is a positive integer of at most 20 octets (cryptography: 159 bits)
SERIAL_MAX_BITS = 159


def _serial(text: str) -> int:
    value = text.strip()
    try:
        serial = int(value, 16) if value.lower().startswith("0x") else int(value, 10)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a serial (decimal, or hex as 0x...)",
                                 param_hint="--revoke") from None
    if serial <= 0:
        raise click.BadParameter(f"{text!r}: serials are positive (not negative, not 0)", param_hint="--revoke")
    if serial.bit_length() > SERIAL_MAX_BITS:
        raise click.BadParameter(f"{text!r} is {serial.bit_length()} bits long; X.509 serials have at "
                                 f"most {SERIAL_MAX_BITS} bits (20 bytes)", param_hint="--revoke")
    return serial


@gen_group.command("crl")
@_out_option
@_ca_dir_option
@click.option("--revoke", "serials", multiple=True, metavar="SERIAL",
              callback=lambda _ctx, _param, values: [_serial(v) for v in values],
              help="Revoke this serial (repeatable): decimal, or hex as 0x....")
@click.option("--revoke-cert", "cert_files", multiple=True, metavar="FILE",
              type=click.Path(dir_okay=False, path_type=Path),
              help="Revoke the serial of this certificate file (repeatable).")
@_days_option(30)
@_force_option(f"Start a new CRL instead of adding to an existing {CRL_FILE}.")
@format_option(["text", "json"])
def gen_crl(out: Path, ca_dir: Path | None, serials: list[int], cert_files: tuple[Path, ...], days: int,
            force: bool, fmt: str) -> None:
    """Revoke serials into a CRL and a hashed crl_dir.

    Writes DIR/crl.pem and maintains the hashed directory DIR/crl/.

    An existing crl.pem from the same CA is updated: its revocations are kept and its CRL
    number goes up. DIR/crl/ holds the CRL as a regular file named <issuer hash>.r0, which
    is what tls_mgm's crl_dir needs (it skips symlinks) and what OpenSSL's hashed lookup
    finds.

    \b
    Examples:
      tlsmgm gen crl --out pki --revoke 0x3001 --revoke-cert pki/old.crt
      # opensips.cfg: modparam("tls_mgm", "crl_dir", "[dom]/path/to/pki/crl")
    """
    from tlsmgm_cli.core.x509.certgen import check_targets, load_cert, update_crl
    from tlsmgm_cli.render.gen import render_crl

    check_targets((out / CRL_FILE, out / CRL_DIR), force=force, may_exist=True)
    ca = _load_ca(ca_dir or out)
    revoked = list(serials) + [load_cert(path).serial_number for path in cert_files]
    result = update_crl(ca, out / CRL_FILE, out / CRL_DIR, revoked, days=days, fresh=force)
    render_crl(result, fmt)
