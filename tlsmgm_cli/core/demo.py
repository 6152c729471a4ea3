"""``tlsmgm demo``: a self-contained example — a private test CA, server certificates
for atlanta.com, biloxi.com and a generic (no-SNI) domain, a client certificate, and an
opensips.cfg modelled on the tls_mgm documentation's multi-domain example."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tlsmgm_cli.core.errors import TlsmgmError, UsageError
from tlsmgm_cli.core.util.atomicio import atomic_write, fsync_dir

LISTEN_IP = "127.0.0.1"
LISTEN_PORT = 5061

_CFG = """\
# opensips.cfg written by `tlsmgm demo` - modelled on the tls_mgm documentation's
# multi-domain example. Every path points into this directory.
log_level = 3
socket = tls:{ip}:{port}

loadmodule "tls_openssl.so"
loadmodule "tls_mgm.so"
loadmodule "proto_tls.so"

modparam("tls_mgm", "client_sip_domain_avp", "tls_sip_dom")

# server domains: chosen by the listener address, then by the SNI the client sends
modparam("tls_mgm", "server_domain", "atlanta")
modparam("tls_mgm", "match_ip_address", "[atlanta]{ip}:{port}")
modparam("tls_mgm", "match_sip_domain", "[atlanta]atlanta.com, *.atlanta.com")
modparam("tls_mgm", "tls_method", "[atlanta]TLSv1_2-")
modparam("tls_mgm", "certificate", "[atlanta]{dir}/atlanta.crt")
modparam("tls_mgm", "private_key", "[atlanta]{dir}/atlanta.key")
modparam("tls_mgm", "ca_list", "[atlanta]{dir}/ca.crt")
modparam("tls_mgm", "verify_cert", "[atlanta]1")
modparam("tls_mgm", "require_cert", "[atlanta]0")

modparam("tls_mgm", "server_domain", "biloxi")
modparam("tls_mgm", "match_ip_address", "[biloxi]{ip}:{port}")
modparam("tls_mgm", "match_sip_domain", "[biloxi]biloxi.com")
modparam("tls_mgm", "tls_method", "[biloxi]TLSv1_2-")
modparam("tls_mgm", "certificate", "[biloxi]{dir}/biloxi.crt")
modparam("tls_mgm", "private_key", "[biloxi]{dir}/biloxi.key")
modparam("tls_mgm", "ca_list", "[biloxi]{dir}/ca.crt")
modparam("tls_mgm", "verify_cert", "[biloxi]1")
modparam("tls_mgm", "require_cert", "[biloxi]0")

# clients that send no SNI get this one ("none" is matched when there is no SNI)
modparam("tls_mgm", "server_domain", "generic")
modparam("tls_mgm", "match_ip_address", "[generic]{ip}:{port}")
modparam("tls_mgm", "match_sip_domain", "[generic]none")
modparam("tls_mgm", "tls_method", "[generic]TLSv1_2-")
modparam("tls_mgm", "certificate", "[generic]{dir}/generic.crt")
modparam("tls_mgm", "private_key", "[generic]{dir}/generic.key")
modparam("tls_mgm", "ca_list", "[generic]{dir}/ca.crt")
modparam("tls_mgm", "verify_cert", "[generic]1")
modparam("tls_mgm", "require_cert", "[generic]0")

# client domain for outgoing connections (no client_sip_domain_avp value -> matched as "*")
modparam("tls_mgm", "client_domain", "trunk")
modparam("tls_mgm", "match_ip_address", "[trunk]*")
modparam("tls_mgm", "match_sip_domain", "[trunk]*")
modparam("tls_mgm", "tls_method", "[trunk]TLSv1_2-")
modparam("tls_mgm", "certificate", "[trunk]{dir}/client.crt")
modparam("tls_mgm", "private_key", "[trunk]{dir}/client.key")
modparam("tls_mgm", "ca_list", "[trunk]{dir}/ca.crt")
modparam("tls_mgm", "verify_cert", "[trunk]1")

route {{
    if (is_method("OPTIONS")) {{
        xlog("TLS $tls_version from $tls_peer_subject_cn via $si\\n");
        sl_send_reply(200, "OK");
        exit;
    }}
}}
"""


MARKER = ".tlsmgm-demo"
_ROLES = ("ca", "atlanta", "biloxi", "generic", "client")
#: every file a demo directory holds: --force replaces a directory only when it holds nothing else
DEMO_FILES = frozenset([MARKER, "opensips.cfg"] + [f"{role}.{ext}" for role in _ROLES for ext in ("crt", "key")])


def write_demo(directory: str, *, force: bool = False) -> dict[str, str]:
    """Write the demo into ``directory``; refuse when it exists unless ``force``, and even
    then unless it is a demo directory (only demo files in it): ``--force`` must never
    delete what the demo did not write (``demo ~ --force``). Everything is written into a
    staging directory next to the target and renamed into place, so a failure (a full
    disk) leaves nothing half-written. Returns the paths written by role."""
    target = Path(directory).resolve()
    try:
        str(target).encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError(f"DIR '{target}' is not valid UTF-8: the demo's opensips.cfg names its files by "
                         "that path; choose a UTF-8 name") from None
    if target.exists() or target.is_symlink():
        if not force:
            raise UsageError(f"{target} already exists (use --force to replace it)")
        _check_replaceable(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as err:
        raise TlsmgmError(f"cannot write into {parent}: {err.strerror or err}") from None
    try:
        written = _write_files(staging, target)
        os.chmod(staging, 0o755)  # mkdtemp's 0700 -> a plain directory (the keys stay 0600)
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=parent))
            os.rename(target, old / "demo")
        os.rename(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise TlsmgmError(f"cannot write the demo into {target}: {err.strerror or err}; nothing written") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    fsync_dir(parent)
    return written


def _check_replaceable(target: Path) -> None:
    if target.is_symlink() or not target.is_dir():
        raise UsageError(f"{target} is not a directory tlsmgm demo wrote; refused (remove it yourself)")
    try:
        names = {entry.name for entry in os.scandir(target)}
    except OSError as err:
        raise UsageError(f"cannot read {target}: {err.strerror or err}") from None
    foreign = sorted(names - DEMO_FILES)
    if foreign or "opensips.cfg" not in names:
        shown = ", ".join(foreign[:3]) + (" ..." if len(foreign) > 3 else "")
        why = f"it holds other files ({shown})" if foreign else "it holds no demo opensips.cfg"
        raise UsageError(f"{target} is not a directory tlsmgm demo wrote ({why}); --force replaces only a "
                         "demo directory: remove it yourself or choose another DIR")


def _write_files(staging: Path, target: Path) -> dict[str, str]:
    """The demo's files into ``staging``; their paths (and the config's) name ``target``."""
    from tlsmgm_cli.core.x509.certgen import make_ca, make_cert

    ca = make_ca("tlsmgm demo CA")
    ca.write(staging, "ca")
    written: dict[str, str] = {"ca": str(target / "ca.crt")}
    for name, sans, server, client in (
        ("atlanta", ["atlanta.com", "*.atlanta.com"], True, False),
        ("biloxi", ["biloxi.com"], True, False),
        ("generic", ["sip.example.net", LISTEN_IP], True, False),
        ("client", ["trunk.example.net"], False, True),
    ):
        cert = make_cert(ca, sans[0], sans=sans, server=server, client=client)
        cert.write(staging, name)
        written[name] = str(target / f"{name}.crt")
    atomic_write(staging / "opensips.cfg", _CFG.format(ip=LISTEN_IP, port=LISTEN_PORT, dir=target).encode())
    atomic_write(staging / MARKER, b"written by tlsmgm demo: `tlsmgm demo --force` may replace this directory\n")
    written["config"] = str(target / "opensips.cfg")
    return written
