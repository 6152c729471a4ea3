"""Big configs are checked by two processes; the findings must equal a one-process run,
in the same order."""

from __future__ import annotations

from cfgtext import mp, write_cfg

from tlsmgm_cli.core import checks
from tlsmgm_cli.core.loader import load_domains


def test_two_process_check_equals_one_process(tmp_path, pki, monkeypatch):
    parts = []
    n = checks._PARALLEL_MIN_DOMAINS + 10
    for i in range(n):
        name = f"d{i}"
        cert, key = pki.server.cert_path, pki.server.key_path
        if i % 401 == 0:
            cert = tmp_path / f"missing{i}.pem"  # faults in both halves
        elif i % 401 == 7:
            key = pki.wrong_key.key_path
        parts += [mp("server_domain", name), mp("match_ip_address", f"[{name}]10.0.{i // 250}.{i % 250}:5061"),
                  mp("certificate", f"[{name}]{cert}"), mp("private_key", f"[{name}]{key}"),
                  mp("ca_list", f"[{name}]{pki.ca.cert_path}")]
    cfg = write_cfg(tmp_path, "".join(parts))
    domset = load_domains(str(cfg))
    calls = []
    parallel = checks.run_checks(domset, progress=lambda done, total: calls.append((done, total)))
    monkeypatch.setattr(checks, "_PARALLEL_MIN_DOMAINS", 10**9)
    sequential = checks.run_checks(load_domains(str(cfg)))
    assert [f.to_dict() for f in parallel.findings] == [f.to_dict() for f in sequential.findings]
    rules = {f.rule for f in parallel.findings}
    assert {"TLS200"} <= rules  # the missing certificates were found
    late = [f for f in parallel.findings if f.domain == f"d{n - 1 - (n - 1) % 401}"]
    assert late, "the second half's faults must be reported"
    assert calls[-1] == (n, n)
