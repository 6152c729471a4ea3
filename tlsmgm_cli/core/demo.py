"""``tlsmgm demo``: a self-contained example — a private test CA, server certificates
for atlanta.com, biloxi.com and a generic (no-SNI) domain, a client certificate, and an
opensips.cfg modelled on the tls_mgm documentation's multi-domain example."""

from __future__ import annotations

import shutil
from pathlib import Path

from tlsmgm_cli.core.errors import UsageError
from tlsmgm_cli.core.util.atomicio import atomic_write

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


def write_demo(directory: str, *, force: bool = False) -> dict[str, str]:
    """Write the demo into ``directory``; refuse when it exists unless ``force``.
    Returns the paths written by role."""
    from tlsmgm_cli.core.x509.certgen import make_ca, make_cert

    target = Path(directory).resolve()
    if target.exists():
        if not force:
            raise UsageError(f"{target} already exists (use --force to replace it)")
        if not target.is_dir():
            raise UsageError(f"{target} is not a directory")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    ca = make_ca("tlsmgm demo CA")
    written: dict[str, str] = {}
    ca_crt, _ = ca.write(target, "ca")
    written["ca"] = str(ca_crt)
    for name, sans, server, client in (
        ("atlanta", ["atlanta.com", "*.atlanta.com"], True, False),
        ("biloxi", ["biloxi.com"], True, False),
        ("generic", ["sip.example.net", LISTEN_IP], True, False),
        ("client", ["trunk.example.net"], False, True),
    ):
        cert = make_cert(ca, sans[0], sans=sans, server=server, client=client)
        crt, _ = cert.write(target, name)
        written[name] = str(crt)
    cfg = target / "opensips.cfg"
    atomic_write(cfg, _CFG.format(ip=LISTEN_IP, port=LISTEN_PORT, dir=target).encode())
    written["config"] = str(cfg)
    return written
