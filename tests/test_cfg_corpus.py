"""The config reader over the real-world corpus (behaviour §1.11)."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import pytest
from corpus import CORPUS  # noqa: E402

from tlsmgm_cli.core.cfg.parse import read_config

FILES = sorted(CORPUS.glob("*.cfg")) if CORPUS.is_dir() else []

pytestmark = pytest.mark.skipif(not FILES, reason="corpus directory absent")


def corpus(prefix: str) -> Path:
    matches = [f for f in FILES if f.name.startswith(prefix)]
    assert len(matches) == 1, prefix
    return matches[0]


def tls_params(path: Path, **kwargs) -> list[tuple[str, str | int, int]]:
    pc = read_config(str(path), **kwargs)
    return [(m.param, m.value, m.loc.line) for m in pc.modparams if m.module == "tls_mgm"]


@pytest.mark.parametrize("path", FILES, ids=[f.name[:50] for f in FILES])
def test_every_corpus_file_reads(path: Path) -> None:
    pc = read_config(str(path))
    assert pc.files[0] == str(path)
    for d in pc.diagnostics:
        assert d.loc is not None and d.loc.line >= 1
    assert len(pc.diagnostics) < 40  # no flood


def test_softswitch_ce() -> None:
    path = corpus("hello-ldf__opensips-softswitch-ce")
    params = tls_params(path)
    assert ("server_domain", "dom1", 253) in params
    assert ("tls_method", "[dom1]tlsv1_2", 257) in params
    assert ("match_sip_domain", "[dom1]*", 256) in params
    assert len(params) == 9
    pc = read_config(str(path))
    assert [(s.proto, s.host, s.port, s.attrs) for s in pc.sockets][:2] == [
        ("udp", "0.0.0.0", 5060, {"as": "${DEFAULT_DOMAIN}"}), ("tcp", "0.0.0.0", 5060, {"as": "${DEFAULT_DOMAIN}"}),
    ]
    assert {"m4-template", "template-placeholder"} <= {d.code for d in pc.diagnostics}
    assert pc.errors == []


def test_teams_sbc_mixed_db_and_script() -> None:
    path = corpus("w01w13__opensips-teams-sbc")
    params = tls_params(path)
    assert ("db_url", "sqlite:///db_data/opensips", 70) in params
    assert ("client_domain", "dom0", 73) in params
    assert ("server_domain", "dom1", 80) in params
    assert ("ca_dir", "[dom0]/etc/ssl/certs", 77) in params
    pc = read_config(str(path))
    proto_tls = [(m.param, m.value, m.kind) for m in pc.modparams if m.module == "proto_tls"]
    assert proto_tls == [("tls_handshake_timeout", 300, "int"), ("tls_max_msg_chunks", 8, "int")]
    assert [(s.proto, s.host, s.port) for s in pc.sockets] == [("tls", "PRIVATE_IP", 5061), ("udp", "PRIVATE_IP", 5060)]


def test_xsdhy_unprefixed_values_and_interface_listen() -> None:
    path = corpus("xsdhy__opensips")
    assert tls_params(path) == [
        ("verify_cert", "0", 122), ("require_cert", "0", 123),
        ("certificate", "/usr/local/etc/opensips/cert/self.pem", 124),
        ("private_key", "/usr/local/etc/opensips/cert/self.key", 125),
    ]
    pc = read_config(str(path))
    assert [(s.keyword, s.proto, s.host, s.port) for s in pc.sockets] == [
        ("listen", "udp", "eth0", 5060), ("listen", "wss", "eth0", 5063), ("listen", "ws", "eth0", 5061),
    ]
    assert [d.code for d in pc.diagnostics] == ["listen-deprecated"] * 3


def test_proto_wss_sample_is_clean() -> None:
    path = corpus("OpenSIPS__opensips__modules__proto_wss")
    pc = read_config(str(path))
    assert pc.diagnostics == []
    assert [m.param for m in pc.modparams if m.module == "tls_mgm"] == [
        "server_domain", "match_ip_address", "certificate", "private_key", "verify_cert", "require_cert",
    ]
    assert [s.text for s in pc.sockets] == ["ws:127.0.0.1:8080", "wss:127.0.0.1:443", "tls:127.0.0.1:5061", "udp:127.0.0.1:5060"]


def test_residential_m4_best_effort_finds_tls_block() -> None:
    path = corpus("OpenSIPS__opensips__examples__templates__residential")
    params = tls_params(path)
    assert [p for p, _, _ in params] == [
        "server_domain", "match_ip_address", "verify_cert", "require_cert", "tls_method", "certificate", "private_key", "ca_list",
    ]
    assert params[0] == ("server_domain", "default", 210)
    pc = read_config(str(path))
    assert [d.code for d in pc.diagnostics] == ["m4-template"]


@pytest.mark.skipif(shutil.which("m4") is None, reason="m4 not installed")
def test_residential_m4_through_m4() -> None:
    path = corpus("OpenSIPS__opensips__examples__templates__residential")
    assert tls_params(path, preprocessor="m4") == []  # ENABLE_TLS defaults to `no'
    pipeline = "sed \"s/define(\\`ENABLE_TLS', \\`no')/define(\\`ENABLE_TLS', \\`yes')/\" | m4"
    enable = "sh -c " + shlex.quote(pipeline)  # --pp runs an argv, not a shell line (issue 12)
    params = tls_params(path, preprocessor=enable)
    assert [(p, line) for p, _, line in params][:2] == [("server_domain", 210), ("match_ip_address", 211)]
    assert len(params) == 8


def test_lineblocs_mustache_domains() -> None:
    path = corpus("Lineblocs__opensips-proxy")
    params = tls_params(path)
    assert ("client_domain", "{{{deployment_domain}}}", 83) in params
    assert ("server_domain", "{{{deployment_domain}}}", 91) in params
    assert len(params) == 14


def test_helm_fragment_and_legacy_globals() -> None:
    params = tls_params(corpus("denislemire__opensips-helm"))
    assert ("certificate", "[default]{{ .Values.tls.certificatePath }}", 7) in params
    pc = read_config(str(corpus("blox-org__blox-cfg__opensips__blox-tls")))
    assert [(s.name, s.value) for s in pc.statements if s.name.startswith("tls_")][:2] == [
        ("tls_certificate", "/usr/local/etc/opensips/tls/glob/glob-cert.pem"),
        ("tls_private_key", "/usr/local/etc/opensips/tls/glob/glob-privkey.pem"),
    ]
    assert pc.modparams == []


def test_kamailio_directives_and_single_quotes() -> None:
    pc = read_config(str(corpus("Ilyin-V-V__opensips_configuration__opensips_conf__opensips_modules")))
    assert [d.code for d in pc.diagnostics] == ["kamailio-directive", "include-missing"]
    assert ("drouting", "ruri_avp", "$avp(dr_ruri)") in [(m.module, m.param, m.value) for m in pc.modparams]


def test_ims_multiline_string_keeps_line_numbers() -> None:
    pc = read_config(str(corpus("OpenSIPS__opensips-ims-ce__icscf")))
    assert pc.errors == []
    assert [(s.host, s.loc.line) for s in pc.sockets] == [("${ICSCF_IP}", 38), ("${ICSCF_IP}", 39)]
