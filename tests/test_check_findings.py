"""tlsmgm check: certificate, file, crypto and reachability rules that OpenSIPS does not
abort on but that break or weaken TLS, through run_checks on real files."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from cfgtext import load, mp, server
from pki import Pki

from tlsmgm_cli.core.checks import fails, run_checks
from tlsmgm_cli.core.checks.certs import san_covers
from tlsmgm_cli.core.checks.rules import DIAGNOSTIC_RULES, RULES, rule_for_code
from tlsmgm_cli.core.errors import Diagnostic, TlsmgmError
from tlsmgm_cli.core.x509 import certgen


def findings(tmp_path: Path, body: str, **kw):
    return run_checks(load(tmp_path, body), **kw).findings


def rules(tmp_path: Path, body: str, **kw) -> set[str]:
    return {f.rule for f in findings(tmp_path, body, **kw)}


def test_expiry_windows_follow_now_and_warn_days(pki: Pki, tmp_path: Path) -> None:
    body = server(pki)
    not_after = pki.server.cert.not_valid_after_utc
    assert "TLS302" in rules(tmp_path, body, now=not_after - dt.timedelta(days=10))
    assert "TLS302" not in rules(tmp_path, body, now=not_after - dt.timedelta(days=10), warn_days=5)
    assert "TLS301" in rules(tmp_path, body, now=not_after + dt.timedelta(seconds=1))
    assert "TLS303" in rules(tmp_path, body, now=pki.server.cert.not_valid_before_utc - dt.timedelta(days=1))
    assert not rules(tmp_path, body) & {"TLS301", "TLS302", "TLS303"}


@pytest.mark.parametrize(("item", "rule"), [("rsa1024", "TLS304"), ("sha1", "TLS305"), ("self_signed", "TLS300")])
def test_weak_or_untrusted_certificates(pki: Pki, tmp_path: Path, item: str, rule: str) -> None:
    got = getattr(pki, item)
    hits = findings(tmp_path, server(pki, cert=got.cert_path.as_posix(), key=got.key_path.as_posix()))
    assert rule in {f.rule for f in hits}
    assert not {"TLS304", "TLS305", "TLS300"} & rules(tmp_path, server(pki))


def test_chain_names_the_openssl_verify_error(pki: Pki, tmp_path: Path) -> None:
    leaf_only = server(pki, cert=pki.server_chain.leaf_path.as_posix(), key=pki.server_chain.key_path.as_posix())
    body = leaf_only + mp("ca_list", f"[d]{pki.ca.cert_path}")
    (hit,) = [f for f in findings(tmp_path, body) if f.rule == "TLS300"]
    assert "unable to get local issuer certificate (X509_V_ERR 20 at depth 0)" in hit.message
    assert hit.openssl and hit.openssl.startswith("openssl verify -CAfile")


def test_eku_must_fit_the_side(pki: Pki, tmp_path: Path) -> None:
    body = server(pki, cert=pki.client.cert_path.as_posix(), key=pki.client.key_path.as_posix())
    assert "TLS306" in rules(tmp_path, body)
    client_ok = mp("client_domain", "c") + mp("certificate", f"[c]{pki.client.cert_path}") + \
        mp("private_key", f"[c]{pki.client.key_path}") + mp("tls_method", "[c]TLSv1_2")
    assert "TLS306" not in rules(tmp_path, client_ok)


def test_san_coverage_and_uncoverable_patterns(pki: Pki, tmp_path: Path) -> None:
    body = server(pki) + mp("match_sip_domain", "[d]www.atlanta.com, *.atlanta.com, sip*.example.com")
    hits = findings(tmp_path, body)
    uncovered = [f.message for f in hits if f.rule == "TLS307"]
    assert any("'www.atlanta.com'" in m for m in uncovered)
    assert any("'*.atlanta.com'" in m for m in uncovered)
    assert not any("'atlanta.com'" in m and "www" not in m and "*" not in m for m in uncovered)
    flagged = [f.message for f in hits if f.rule == "TLS308"]
    assert any("sip*.example.com" in m for m in flagged) and any("a.b.atlanta.com" in m for m in flagged)


@pytest.mark.parametrize(("san", "host", "ok"), [
    ("atlanta.com", "ATLANTA.com", True), ("*.atlanta.com", "sip.atlanta.com", True),
    ("*.atlanta.com", "a.b.atlanta.com", False), ("*.atlanta.com", "atlanta.com", False),
    ("*.com", "atlanta.com", False), ("f*.atlanta.com", "foo.atlanta.com", False),
])
def test_rfc6125_wildcards(san: str, host: str, ok: bool) -> None:
    assert san_covers(san, host) is ok


def test_key_file_permissions(make_pki, tmp_path: Path) -> None:
    own = make_pki()
    os.chmod(own.server.key_path, 0o644)
    (hit,) = [f for f in findings(tmp_path, server(own)) if f.rule == "TLS205"]
    assert "mode 0644" in hit.message and "group and others" in hit.message
    os.chmod(own.server.key_path, 0o600)
    assert "TLS205" not in rules(tmp_path, server(own))


def test_ca_dir_needs_hashed_links(pki: Pki, tmp_path: Path) -> None:
    plain = tmp_path / "plain_ca"
    plain.mkdir()
    (plain / "root.pem").write_bytes(pki.ca.cert.public_bytes(certgen.serialization.Encoding.PEM))
    stale = tmp_path / "stale_ca"
    stale.mkdir()
    (stale / "root.pem").write_bytes((plain / "root.pem").read_bytes())
    os.symlink("root.pem", stale / "00000000.0")
    os.symlink("gone.pem", stale / "11111111.0")
    assert "TLS208" in rules(tmp_path, server(pki) + mp("ca_dir", f"[d]{plain}"))
    messages = " ".join(f.message for f in findings(tmp_path, server(pki) + mp("ca_dir", f"[d]{stale}"))
                        if f.rule == "TLS208")
    assert "stale link" in messages and "broken link" in messages
    assert "TLS208" not in rules(tmp_path, server(pki) + mp("ca_dir", f"[d]{pki.ca_dir}"))


def test_crl_dir_rules(pki: Pki, tmp_path: Path) -> None:
    empty = tmp_path / "crl_empty"
    empty.mkdir()
    os.symlink(pki.revoked.crl_path, empty / "root.r0")  # symlinks are skipped by OpenSIPS
    hit = [f for f in findings(tmp_path, server(pki) + mp("crl_dir", f"[d]{empty}")) if f.rule == "TLS210"]
    assert hit and "No suitable CRL files found" in hit[0].message and "symbolic link" in hit[0].message
    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=60)
    body = server(pki) + mp("crl_dir", f"[d]{pki.revoked.crl_dir}")
    assert "TLS211" in rules(tmp_path, body, now=later)
    assert "TLS211" not in rules(tmp_path, body)


def test_weak_ciphers_and_small_dh(pki: Pki, tmp_path: Path) -> None:
    from pki import write_dh_params

    dh_path = write_dh_params(tmp_path / "dh1024.pem", 1024)
    got = rules(tmp_path, server(pki) + mp("ciphers_list", "[d]ALL:eNULL:foo") + mp("dh_params", f"[d]{dh_path}"))
    assert {"TLS401", "TLS402", "TLS404"} <= got
    assert not {"TLS401", "TLS402"} & rules(tmp_path, server(pki) + mp("ciphers_list", "[d]HIGH:!aNULL"))


@pytest.mark.parametrize(("method", "rule"), [
    ("TLS", "TLS031"), ("TLSv1_3-TLSv1_2", "TLS032"), ("TLSv1-TLSv1_3", "TLS033"), ("SSLv23", "TLS033"),
    ("tlsv1_2", "TLS034"), ("SSLv23-TLSv1_2", "TLS035"),
])
def test_method_readings(pki: Pki, tmp_path: Path, method: str, rule: str) -> None:
    assert rule in rules(tmp_path, server(pki) + mp("tls_method", f"[d]{method}"))


def test_reversed_range_is_an_error(pki: Pki, tmp_path: Path) -> None:
    report = run_checks(load(tmp_path, server(pki) + mp("tls_method", "[d]TLSv1_3-TLSv1_2")))
    assert fails(report, "error")


def test_listener_rules(pki: Pki, tmp_path: Path) -> None:
    body = ("socket=tls:10.0.0.10:5061\nsocket=tls:10.0.0.30:5061\n"
            + server(pki, "first", extra=mp("match_ip_address", "[first]10.0.0.10:5061"))
            + server(pki, "second", sni="biloxi.com", extra=mp("match_ip_address", "[second]10.0.0.10:5061")
                     + mp("tls_method", "[second]TLSv1_3"))
            + server(pki, "nosni", sni="sip.atlanta.com",
                     extra=mp("match_ip_address", "[nosni]10.0.0.30:5061, 10.9.9.9:5061"))
            + server(pki, "any"))
    by_rule = {f.rule: f for f in findings(tmp_path, body)}
    assert by_rule["TLS101"].domain == "any"
    assert "10.9.9.9:5061" in by_rule["TLS105"].message and by_rule["TLS105"].domain == "nosni"
    assert "10.0.0.30:5061" in by_rule["TLS103"].message and by_rule["TLS103"].line == 4
    # [second] is declared later, so it comes first and is the initial domain of 10.0.0.10
    assert by_rule["TLS104"].domain == "first" and "[second]" in by_rule["TLS104"].message
    assert "TLS102" not in by_rule


def test_uncovered_listener_and_shadowed_pair(pki: Pki, tmp_path: Path) -> None:
    body = "socket=tls:10.0.0.1:5061\n" + server(pki, "a", extra=mp("match_ip_address", "[a]10.0.0.2:5061")) \
        + server(pki, "b", extra=mp("match_ip_address", "[b]10.0.0.2:5061"))
    hits = findings(tmp_path, body)
    (listener,) = [f for f in hits if f.rule == "TLS102"]
    assert listener.line == 3 and listener.severity == "error"
    shadowed = [f for f in hits if f.rule == "TLS100"]
    assert {f.domain for f in shadowed} == {"a"}  # b is declared later, so it comes first and owns
    assert "TLS106" in {f.rule for f in hits}


def test_select_ignore_and_unknown_rules(pki: Pki, tmp_path: Path) -> None:
    body = server(pki) + mp("ec_curve", "[d]nocurve") + mp("ciphers_list", "[d]NONE")
    assert rules(tmp_path, body, select=["TLS4"]) == {"TLS400", "TLS405"}
    assert rules(tmp_path, body, select=["TLS4"], ignore=["TLS405"]) == {"TLS400"}
    with pytest.raises(TlsmgmError):
        run_checks(load(tmp_path, body), select=["TLS999"])


def test_every_diagnostic_code_maps_to_a_rule() -> None:
    assert all(rule in RULES for rule in DIAGNOSTIC_RULES.values())
    assert rule_for_code("some-new-code") == "TLS099"
    assert rule_for_code("db-row-weird") == "TLS041"


def test_unknown_diagnostic_is_not_dropped(pki: Pki, tmp_path: Path) -> None:
    domset = load(tmp_path, server(pki))
    domset.diagnostics.append(Diagnostic("warning", "brand-new", "something new"))
    (hit,) = [f for f in run_checks(domset).findings if f.rule == "TLS099"]
    assert hit.severity == "warning" and "brand-new" in hit.message


def test_rule_catalogue_is_complete() -> None:
    for rule in RULES.values():
        assert rule.id.startswith("TLS") and len(rule.id) == 6
        assert rule.severity in ("error", "warning", "note") and rule.title and rule.hint


def test_files_are_parsed_once_per_path(pki: Pki, tmp_path: Path, monkeypatch) -> None:
    from tlsmgm_cli.core.checks import filecache

    calls: list[str] = []
    original = filecache.FileCache._read

    def counting(path: str):
        calls.append(path)
        return original(path)

    monkeypatch.setattr(filecache.FileCache, "_read", staticmethod(counting))
    body = "".join(server(pki, f"d{i}") for i in range(20))
    run_checks(load(tmp_path, body))
    assert calls.count(str(pki.server.cert_path)) == 1
