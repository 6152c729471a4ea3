"""The real-world corpus (../shared/corpus/real-world) through the domain model:
the domains found match behaviour §1.11. Skipped when the corpus is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from clirun import run
from corpus import FILES

from tlsmgm_cli.core.loader import load_domains

pytestmark = pytest.mark.skipif(not FILES, reason="shared corpus not present")


def corpus(fragment: str) -> Path:
    (match,) = [f for f in FILES if fragment in f.name]
    return match


def domains(ds):
    return [(d.side, d.name) for d in ds.all]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name[:40])
def test_every_corpus_file_lists_without_traceback(path):
    result = run(*["list", "-c", str(path), "--no-certs", "--format", "json"])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output and "internal error" not in result.output


def test_softswitch_ce_server_dom1_tlsv1_2():
    ds = load_domains(str(corpus("softswitch-ce")))
    assert domains(ds) == [("server", "dom1")]
    dom = ds.find("dom1")
    assert dom.method == "tlsv1_2"
    assert dom.sip_domains == ["*"] and dom.addresses is None
    assert ds.globals.client_tls_domain_avp == "tls_match_dom"
    assert ds.globals.client_sip_domain_avp == "sip_match_dom"
    assert not ds.errors


def test_teams_sbc_client_dom0_server_dom1_and_db_url():
    ds = load_domains(str(corpus("teams-sbc")), use_db=False)
    assert domains(ds) == [("client", "dom0"), ("server", "dom1")]
    assert ds.globals.db_url == "sqlite:///db_data/opensips"
    assert ds.find("dom0").method == "TLSv1_2" and ds.find("dom0").eff_require_cert is True
    assert ds.find("dom1").ca_dir == "/etc/ssl/certs"


def test_teams_sbc_unreachable_db_is_a_warning():
    ds = load_domains(str(corpus("teams-sbc")))
    assert [d.code for d in ds.diagnostics if d.code == "db-unreachable"] == ["db-unreachable"]
    assert domains(ds) == [("client", "dom0"), ("server", "dom1")]


def test_lineblocs_same_name_client_and_server():
    ds = load_domains(str(corpus("Lineblocs")))
    assert domains(ds) == [("client", "{{{deployment_domain}}}"), ("server", "{{{deployment_domain}}}")]


@pytest.mark.parametrize("fragment, line", [
    ("xsdhy", 122),
    ("menuconfig", 197),
])
def test_pre30_unprefixed_values_give_no_tls_domain_name(fragment, line):
    ds = load_domains(str(corpus(fragment)))
    first = [d for d in ds.errors if d.code == "no-domain-name"][0]
    assert first.message == "No TLS domain name"
    assert (first.loc.file, first.loc.line) == (str(corpus(fragment)), line)


@pytest.mark.parametrize("fragment", ["blox-tls", "altanai"])
def test_legacy_core_tls_files_have_no_tls_mgm_domains(fragment):
    ds = load_domains(str(corpus(fragment)))
    assert ds.all == []
    assert any(d.code == "legacy-core-tls" for d in ds.diagnostics)

