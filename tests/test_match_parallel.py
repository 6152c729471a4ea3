"""A big --batch is answered by two processes; the output must equal the one-process answer
line for line (order, error line numbers, exit code)."""

from __future__ import annotations

import json

from cfgtext import mp, write_cfg
from click.testing import CliRunner

from tlsmgm_cli.cli import cli
from tlsmgm_cli.cli.match_cmd import _PARALLEL_MIN_LINES, _BatchRunner
from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.matcher import DomainMatcher


def test_parallel_batch_equals_sequential(tmp_path):
    cfg = write_cfg(tmp_path, mp("server_domain", "a") + mp("match_ip_address", "[a]10.0.0.1:5061")
                    + mp("match_sip_domain", "[a]*.a.com, none") + mp("server_domain", "b"))
    lines = []
    for i in range(_PARALLEL_MIN_LINES + 101):
        if i % 997 == 0:
            lines.append("not json")  # errors in both halves, with their line numbers
        elif i % 3 == 0:
            lines.append(json.dumps({"socket": "10.0.0.1:5061", "sni": f"h{i}.a.com"}))
        elif i % 3 == 1:
            lines.append(json.dumps({"socket": "10.0.0.1:5061", "sni": f"h{i}.b.com"}))  # rejected
        else:
            lines.append(json.dumps({"socket": "192.0.2.1:5061"}))
    batch = tmp_path / "q.jsonl"
    batch.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(cli, ["match", "-c", str(cfg), "--batch", str(batch)])
    sequential = _BatchRunner(DomainMatcher(load_domains(str(cfg)))).json_lines(
        [line.encode() for line in lines])
    got = result.stdout.splitlines()
    assert got == sequential
    assert len(got) == len(lines)
    errors = [i for i, line in enumerate(lines) if line == "not json"]
    assert errors[-1] > len(lines) // 2  # the child's half has errors too
    assert [json.loads(got[i])["line"] for i in errors] == [i + 1 for i in errors]
    assert result.exit_code == 1
