"""``tlsmgm probe``: the config held against a live server.

Servers are real processes on 127.0.0.1: ``tlsmgm serve`` with the same config (every
verdict ``ok``) or with a DIFFERENT config (unexpected-reject, unexpected-accept),
``openssl s_server`` with another certificate (wrong-certificate, unexpected-accept) and a
TCP server that accepts and never answers (no-answer). Certificates come from tests/pki.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from clirun import run
from hypothesis import given, settings
from hypothesis import strategies as st
from pki import Pki
from tlsserving import accept_loop

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.matching.fnmatch_posix import fnmatch
from tlsmgm_cli.core.tls.probe import (
    KIND_EXACT,
    KIND_NO_SNI,
    KIND_UNMATCHED,
    KIND_WILDCARD,
    UNMATCHED_NAME,
    Target,
    name_inside,
    plan_probe,
)
from tlsmgm_cli.core.tls.sslverify import can_set_sni
from tlsmgm_cli.core.x509 import certgen

LISTENER = "10.0.0.10:5061"
BARE = "10.0.0.11:5061"  # a listener no domain covers
IP_PATTERN = "192.0.2.7"


def write_cfg(path: Path, pki: Pki, *, atl_pattern: str = "atlanta.com", cover_bare: bool = False,
              atl_cert=None) -> Path:
    """Server domains on LISTENER: [nosni] 'none', [atl] ATL_PATTERN + an IP literal,
    [blx] '*.biloxi.com' (certificate with its intermediate); BARE has no domain unless
    ``cover_bare``. No client certificates are asked for."""
    atl_cert = atl_cert or pki.server
    lines = [f"socket=tls:{LISTENER}", f"socket=tls:{BARE}", 'loadmodule "proto_tls.so"',
             'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    domains = [("nosni", LISTENER, "none", pki.server), ("atl", LISTENER, f"{atl_pattern},{IP_PATTERN}", atl_cert),
               ("blx", LISTENER, "*.biloxi.com", pki.server_chain)]
    if cover_bare:
        domains.append(("bare", BARE, "*", pki.rsa))
    for name, address, patterns, item in domains:
        for param, value in (("server_domain", name), ("match_ip_address", f"[{name}]{address}"),
                             ("match_sip_domain", f"[{name}]{patterns}"),
                             ("certificate", f"[{name}]{item.cert_path}"),
                             ("private_key", f"[{name}]{item.key_path}"),
                             ("ca_list", f"[{name}]{pki.ca_bundle_path}"),
                             ("verify_cert", f"[{name}]0"), ("require_cert", f"[{name}]0")):
            lines.append(f'modparam("tls_mgm", "{param}", "{value}")')
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.contextmanager
def serve(cfg: Path, keys: list[str]) -> Iterator[dict[str, int]]:
    """``tlsmgm serve`` as a process, each listener KEY bound to a free 127.0.0.1 port:
    yields {KEY: port}."""
    cmd = [sys.executable, "-m", "tlsmgm_cli", "serve", "-c", str(cfg), "--no-db", "--format", "json"]
    for key in keys:
        cmd += ["--listen", f"{key}=127.0.0.1:0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ports = {}
        while len(ports) < len(keys):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            event = json.loads(line)
            if event.get("event") == "listening":
                ports[event["listener"]] = int(event["bind"].rsplit(":", 1)[1])
        yield ports
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def s_server(cert: Path, key: Path, *extra: str) -> Iterator[int]:
    """``openssl s_server`` presenting ``cert`` whatever the SNI (``extra``: more options)."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl binary not installed")
    for _attempt in range(5):
        port = free_port()
        proc = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-cert", str(cert),
                                 "-key", str(key), "-quiet", *extra],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and proc.poll() is None:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.05)
        if proc.poll() is None:
            break
    try:
        yield port
    finally:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """Accepts TCP connections and never sends a byte."""
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def loop() -> None:
        lsock.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield lsock.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        lsock.close()


def probe_json(*args: str) -> tuple[int, dict]:
    result = run("probe", "--no-db", "--format", "json", *args)
    assert result.stdout.strip(), result.output
    return result.exit_code, json.loads(result.stdout)


def by_sni(report: dict, listener: str = LISTENER) -> dict:
    return {r["sni"]: r for r in report["results"] if r["listener"] == listener}


@pytest.fixture
def cfg(tmp_path: Path, pki: Pki) -> Path:
    return write_cfg(tmp_path / "opensips.cfg", pki)


# ---------------------------------------------------------------------------------------
# Planning


def test_plan_names_every_pattern_a_generated_name_an_unmatched_name_and_no_sni(cfg: Path) -> None:
    domset = load_domains(str(cfg), use_db=False)
    ip, port = LISTENER.split(":")
    plan = plan_probe(domset, [Target(ip, int(port), "127.0.0.1", 1)])
    cases = {(c.sni, c.kind): c for c in plan.cases}
    assert cases[("atlanta.com", KIND_EXACT)].domain.name == "atl"
    assert cases[("none", KIND_EXACT)].domain.name == "nosni"
    wild = cases[("tlsmgm-probe.biloxi.com", KIND_WILDCARD)]
    assert (wild.pattern, wild.pattern_domain, wild.domain.name) == ("*.biloxi.com", "blx", "blx")
    assert cases[(UNMATCHED_NAME, KIND_UNMATCHED)].expected == "rejected"
    assert cases[(None, KIND_NO_SNI)].domain.name == "nosni"
    ip_case_sent = (IP_PATTERN, KIND_EXACT) in cases
    assert ip_case_sent == (not any(s.sni == IP_PATTERN for s in plan.skipped))


def test_plan_for_a_listener_no_domain_covers_is_one_silent_case(cfg: Path) -> None:
    domset = load_domains(str(cfg), use_db=False)
    plan = plan_probe(domset, [Target("10.0.0.11", 5061, "127.0.0.1", 1)])
    assert [(c.sni, c.expected) for c in plan.cases] == [(None, "dropped")]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["*", "?", "[a-c]", "[!x]", "ab", ".", "-", "\\*", "7"]), min_size=1,
                max_size=8))
def test_name_inside_a_pattern_is_matched_by_it(parts: list[str]) -> None:
    pattern = "".join(parts)
    name = name_inside(pattern)
    assert name is not None, pattern
    assert fnmatch(pattern, name, True)


# ---------------------------------------------------------------------------------------
# Against tlsmgm serve


def test_probe_against_serve_with_the_same_config_is_all_ok(cfg: Path) -> None:
    with serve(cfg, [LISTENER, BARE]) as ports:
        code, report = probe_json("-c", str(cfg), "--connect", f"{LISTENER}=127.0.0.1:{ports[LISTENER]}",
                                  "--connect", f"{BARE}=127.0.0.1:{ports[BARE]}", "--handshake-timeout", "1")
    assert code == exitcodes.OK, report
    assert {r["verdict"] for r in report["results"]} == {"ok"}
    rows = by_sni(report)
    atl = rows["atlanta.com"]
    assert atl["expected_domain"] == "atl" and atl["presented_sha256"] == atl["expected_sha256"]
    assert atl["presented_subject"] == "CN=atlanta.com" and atl["not_after"].endswith("Z")
    assert atl["chain"]["checked"] and atl["chain"]["ok"]
    blx = rows["tlsmgm-probe.biloxi.com"]
    assert blx["pattern"] == "*.biloxi.com" and blx["chain_length"] == 2 and blx["chain"]["ok"]
    assert rows[UNMATCHED_NAME]["outcome"] == "rejected" and rows[UNMATCHED_NAME]["alert"] == "unrecognized_name"
    assert rows[None]["expected_domain"] == "nosni"
    bare = by_sni(report, BARE)[None]
    assert bare["expected"] == "dropped" and bare["outcome"] == "no-answer"
    if can_set_sni():  # the IP literal is sent byte for byte and selects [atl]
        assert rows[IP_PATTERN]["verdict"] == "ok" and rows[IP_PATTERN]["expected_domain"] == "atl"
    else:
        assert [s["sni"] for s in report["skipped"]] == [IP_PATTERN]
    assert report["summary"]["ok"] == len(report["results"])


def test_probe_against_serve_with_another_config_reports_reject_and_accept(cfg: Path, tmp_path: Path,
                                                                          pki: Pki) -> None:
    other = write_cfg(tmp_path / "other.cfg", pki, atl_pattern="atlanta.org", cover_bare=True)
    with serve(other, [LISTENER, BARE]) as ports:
        code, report = probe_json("-c", str(cfg), "--connect", f"{LISTENER}=127.0.0.1:{ports[LISTENER]}",
                                  "--connect", f"{BARE}=127.0.0.1:{ports[BARE]}", "--handshake-timeout", "1")
        text = run("probe", "--no-db", "-c", str(cfg), "--connect", f"{LISTENER}=127.0.0.1:{ports[LISTENER]}",
                   "--connect", f"{BARE}=127.0.0.1:{ports[BARE]}", "--handshake-timeout", "1")
    assert code == exitcodes.PROBLEMS
    atl = by_sni(report)["atlanta.com"]
    assert (atl["verdict"], atl["outcome"], atl["alert"]) == ("unexpected-reject", "rejected", "unrecognized_name")
    bare = by_sni(report, BARE)[None]
    assert (bare["verdict"], bare["expected"], bare["outcome"]) == ("unexpected-accept", "dropped", "selected")
    assert bare["presented_subject"] == "CN=rsa.atlanta.com"
    assert by_sni(report)["tlsmgm-probe.biloxi.com"]["verdict"] == "ok"
    assert text.exit_code == exitcodes.PROBLEMS
    assert "UNEXPECTED-REJECT" in text.stdout and "UNEXPECTED-ACCEPT" in text.stdout
    assert "1 unexpected-reject, 1 unexpected-accept" in text.stdout.splitlines()[-1]


# ---------------------------------------------------------------------------------------
# Against deviating servers


def test_openssl_s_server_with_another_certificate(cfg: Path, pki: Pki) -> None:
    with s_server(pki.self_signed.cert_path, pki.self_signed.key_path) as port:
        code, report = probe_json("-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                                  "--jobs", "2")
    assert code == exitcodes.PROBLEMS
    rows = by_sni(report)
    atl = rows["atlanta.com"]
    assert atl["verdict"] == "wrong-certificate"
    assert atl["presented_subject"] == "CN=self.atlanta.com" and atl["presented_sha256"] != atl["expected_sha256"]
    assert atl["chain"]["checked"] and not atl["chain"]["ok"]  # self-signed: not issued by the domain's CAs
    assert rows[UNMATCHED_NAME]["verdict"] == "unexpected-accept"  # s_server answers every SNI


def test_a_server_that_never_answers_is_no_answer(cfg: Path) -> None:
    with silent_server() as port:
        started = time.monotonic()
        code, report = probe_json("-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                                  "--handshake-timeout", "0.3")
        took = time.monotonic() - started
    assert code == exitcodes.PROBLEMS
    rows = by_sni(report)
    assert rows["atlanta.com"]["verdict"] == "no-answer"
    assert "no TLS answer" in rows["atlanta.com"]["error"]
    assert rows[UNMATCHED_NAME]["verdict"] == "no-answer"  # an alert 112 was predicted
    assert took < 5


def test_the_total_timeout_bounds_the_run(cfg: Path) -> None:
    with silent_server() as port:
        started = time.monotonic()
        code, report = probe_json("-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                                  "--jobs", "1", "--timeout", "0.3", "--handshake-timeout", "10")
        took = time.monotonic() - started
    assert code == exitcodes.PROBLEMS and took < 3
    assert report["summary"]["timed_out"] is True
    assert {r["verdict"] for r in report["results"]} == {"no-answer"}
    assert any("total timeout" in (r["error"] or "") for r in report["results"])


def test_nothing_listening_is_no_answer_even_where_silence_is_predicted(cfg: Path) -> None:
    code, report = probe_json("-c", str(cfg), "--connect", f"{LISTENER}=127.0.0.1:{free_port()}",
                              "--connect", f"{BARE}=127.0.0.1:{free_port()}")
    assert code == exitcodes.PROBLEMS
    assert {r["verdict"] for r in report["results"]} == {"no-answer"}
    assert {r["outcome"] for r in report["results"]} == {"unreachable"}
    assert "refused" in by_sni(report)["atlanta.com"]["error"]
    bare = by_sni(report, BARE)[None]
    assert bare["expected"] == "dropped" and bare["verdict"] == "no-answer"  # OpenSIPS accepts the TCP


def test_untrusted_subject_reaches_the_terminal_escaped(cfg: Path, pki: Pki, tmp_path: Path) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    evil = certgen.make_cert(pki.ca.issued, "evil.test", subject=x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "evil\x1b]0;owned\x07.test")]))
    cert, key = evil.write(tmp_path, "evil", force=True)
    with s_server(cert, key) as port:
        result = run("probe", "--no-db", "-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}")
    assert result.exit_code == exitcodes.PROBLEMS
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "CN=evil\\x1b]0" in result.stdout and "owned\\x07.test" in result.stdout


# ---------------------------------------------------------------------------------------
# Usage


def test_connect_without_listener_when_several_are_probed_is_usage(cfg: Path) -> None:
    result = run("probe", "--no-db", "-c", str(cfg), "--connect", "127.0.0.1:1")
    assert result.exit_code == exitcodes.USAGE
    assert "LISTENER=HOST:PORT" in result.stderr


@pytest.mark.parametrize("args", [["--socket", "10.0.0.10"], ["--socket", "x:y"], ["--jobs", "0"],
                                  ["--connect", "10.9.9.9:5061=127.0.0.1:1"], ["--timeout", "0"]])
def test_bad_options_are_usage_errors(cfg: Path, args: list[str]) -> None:
    result = run("probe", "--no-db", "-c", str(cfg), *args)
    assert result.exit_code == exitcodes.USAGE, result.output
    assert result.stdout == ""


def test_probe_is_a_command_with_help() -> None:
    result = run("probe", "--help")
    assert result.exit_code == 0 and "wrong-certificate" in result.stdout
    assert "probe" in run("--help").stdout


# ---------------------------------------------------------------------------------------
# Monitoring formats (issue 14 part 3: what the live server actually serves)

NAGIOS_LINE = re.compile(r"^TLSMGM PROBE (OK|WARNING|CRITICAL|UNKNOWN) - [^|\n]+"
                         r"( \| ('[^'=]+'=-?[0-9.]+;[0-9.:]*;[0-9.:]*;;)( '[^'=]+'=-?[0-9.]+;[0-9.:]*;[0-9.:]*;;)*)?\n$")


def _families(text: str) -> dict:
    from prometheus_client.parser import text_string_to_metric_families

    return {f.name: f for f in text_string_to_metric_families(text)}


def test_prometheus_output_parses_with_prometheus_client(cfg: Path, tmp_path: Path) -> None:
    out = tmp_path / "textfile" / "probe.prom"
    out.parent.mkdir()  # the collector's directory exists; -o never creates directories
    with serve(cfg, [LISTENER, BARE]) as ports:
        result = run("probe", "--no-db", "-c", str(cfg), "--connect", f"{LISTENER}=127.0.0.1:{ports[LISTENER]}",
                     "--connect", f"{BARE}=127.0.0.1:{ports[BARE]}", "--handshake-timeout", "1",
                     "--format", "prometheus", "--output", str(out))
    assert result.exit_code == exitcodes.OK, result.output
    assert result.stdout == "" and [p.name for p in out.parent.iterdir()] == ["probe.prom"]
    families = _families(out.read_text())
    expiry = {s.labels["sni"]: s for s in families["tlsmgm_probe_certificate_expiry_seconds"].samples}
    atl = expiry["atlanta.com"]
    assert atl.labels["domain"] == "atl" and len(atl.labels["sha256"]) == 64
    assert 800 * 86400 < atl.value < 830 * 86400  # tests/pki.py certificates: 825 days
    assert "" in expiry  # no SNI
    predicted = families["tlsmgm_probe_as_predicted"].samples
    assert {s.value for s in predicted} == {1.0}
    assert {(s.labels["listener"], s.labels["expected"]) for s in predicted} >= {(BARE, "dropped"),
                                                                                 (LISTENER, "rejected")}
    assert families["tlsmgm_probe_success"].samples[0].value == 1.0
    verdicts = {s.labels["verdict"]: s.value for s in families["tlsmgm_probe_verdicts"].samples}
    assert verdicts["ok"] == len(predicted) and verdicts["wrong-certificate"] == 0


def test_prometheus_shows_an_expired_certificate_and_a_wrong_one(cfg: Path, pki: Pki) -> None:
    with s_server(pki.expired.cert_path, pki.expired.key_path) as port:
        result = run("probe", "--no-db", "-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                     "--format", "prometheus")
    assert result.exit_code == exitcodes.PROBLEMS
    families = _families(result.stdout)
    assert all(s.value < 0 for s in families["tlsmgm_probe_certificate_expiry_seconds"].samples)
    assert {s.value for s in families["tlsmgm_probe_chain_valid"].samples} == {0.0}
    assert families["tlsmgm_probe_success"].samples[0].value == 0.0
    verdicts = {s.labels["verdict"]: s.value for s in families["tlsmgm_probe_verdicts"].samples}
    assert verdicts["wrong-certificate"] >= 3 and verdicts["unexpected-accept"] == 1


@pytest.mark.parametrize("extra, status, word", [
    ([], 0, "OK"), (["--warn-days", "1000"], 1, "WARNING"),
    (["--warn-days", "1000", "--crit-days", "900"], 2, "CRITICAL")])
def test_nagios_status_line_and_thresholds(cfg: Path, extra: list[str], status: int, word: str) -> None:
    with serve(cfg, [LISTENER]) as ports:
        result = run("probe", "--no-db", "-c", str(cfg), "--socket", LISTENER,
                     "--connect", f"127.0.0.1:{ports[LISTENER]}", "--format", "nagios", *extra)
    assert result.exit_code == status, result.output
    assert NAGIOS_LINE.match(result.stdout), result.stdout
    assert result.stdout.startswith(f"TLSMGM PROBE {word} - ")
    perf = result.stdout.split(" | ", 1)[1]
    # thresholds are plugin-guidelines ranges: alert BELOW the days given
    assert re.search(r"'=82[45]\.[0-9];[0-9]+:;[0-9]+:;;", perf), perf
    assert "'days_left 10.0.0.10:5061 atlanta.com'=825.0;" in perf or "'days_left 10.0.0.10:5061 atlanta.com'=824." in perf


def test_nagios_mismatch_is_critical_and_usage_is_unknown(cfg: Path, pki: Pki) -> None:
    with s_server(pki.self_signed.cert_path, pki.self_signed.key_path) as port:
        result = run("probe", "--no-db", "-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                     "-f", "nagios")
    assert result.exit_code == 2 and NAGIOS_LINE.match(result.stdout), result.stdout
    assert "wrong-certificate" in result.stdout.split(" | ")[0]
    for bad in (["--socket", "10.0.0.10"], ["--jobs", "0"], ["--crit-days", "40"]):
        usage = run("probe", "--no-db", "-c", str(cfg), "--format", "nagios", *bad)
        assert usage.exit_code == 3, (bad, usage.output)
    assert run("probe", "-c", str(cfg) + ".missing", "--format=nagios").exit_code == 3


def test_a_config_opensips_refuses_is_usage_or_unknown(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cfg"
    bad.write_text('socket=tls:127.0.0.1:5061\nloadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "a")\nmodparam("tls_mgm", "tls_method", "[a]bogus")\n')
    assert run("probe", "--no-db", "-c", str(bad)).exit_code == exitcodes.USAGE
    assert run("probe", "--no-db", "-c", str(bad), "-f", "nagios").exit_code == 3


@contextlib.contextmanager
def garbage_server(reply: bytes) -> Iterator[int]:
    """Answers every connection with ``reply`` (not TLS) and closes it."""
    def handle(conn: socket.socket, _stop: threading.Event) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(5)
            conn.recv(4096)
            conn.sendall(reply)

    with accept_loop(handle) as port:
        yield port


@pytest.mark.parametrize("reply", [b"SIP/2.0 400 Bad Request\r\n\r\n", b"\x15\x03\x03\x00\x02\x02\x28", b""])
def test_a_server_that_answers_garbage_is_a_verdict_not_a_crash(cfg: Path, reply: bytes) -> None:
    with garbage_server(reply) as port:
        code, report = probe_json("-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}")
    assert code == exitcodes.PROBLEMS
    atl = by_sni(report)["atlanta.com"]
    assert atl["verdict"] in ("unexpected-reject", "no-answer") and atl["error"]
    assert atl["presented_sha256"] is None


def test_a_catch_all_pattern_makes_the_unmatched_name_an_unlisted_one(tmp_path: Path, pki: Pki) -> None:
    cfg = tmp_path / "opensips.cfg"
    cfg.write_text("\n".join([
        f"socket=tls:{LISTENER}", 'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"',
        'modparam("tls_mgm", "server_domain", "any")', f'modparam("tls_mgm", "match_ip_address", "[any]{LISTENER}")',
        f'modparam("tls_mgm", "certificate", "[any]{pki.server.cert_path}")',
        f'modparam("tls_mgm", "private_key", "[any]{pki.server.key_path}")']) + "\n")
    domset = load_domains(str(cfg), use_db=False)
    plan = plan_probe(domset, [Target("10.0.0.10", 5061, "127.0.0.1", 1)])
    cases = {c.sni: c for c in plan.cases}
    assert cases["tlsmgm-probe"].pattern == "*"
    unlisted = cases[UNMATCHED_NAME]
    assert (unlisted.kind, unlisted.pattern, unlisted.domain.name) == ("unlisted", "*", "any")


def test_a_certificate_served_before_a_failure_is_still_compared(cfg: Path, pki: Pki) -> None:
    """TLS 1.2 with a required client certificate: the server sends its certificate, then
    fails the handshake because the probe has none to send."""
    with s_server(pki.server.cert_path, pki.server.key_path, "-tls1_2", "-Verify", "1",
                  "-CAfile", str(pki.ca.cert_path)) as port:
        code, report = probe_json("-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                                  "--jobs", "1")
    atl = by_sni(report)["atlanta.com"]
    assert (atl["outcome"], atl["verdict"]) == ("selected", "ok"), atl
    assert atl["presented_sha256"] == atl["expected_sha256"]
    assert any("then the handshake failed" in n for n in atl["notes"])
    assert code == exitcodes.PROBLEMS  # s_server answers the unmatched name too


def test_an_output_file_that_cannot_be_written_is_an_error_not_a_crash(cfg: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with silent_server() as port:
        result = run("probe", "--no-db", "-c", str(cfg), "--socket", LISTENER, "--connect", f"127.0.0.1:{port}",
                     "--handshake-timeout", "0.1", "--output", str(blocker / "probe.prom"), "-f", "prometheus")
    assert result.exit_code == exitcodes.PROBLEMS
    assert "cannot write" in result.stderr and result.stdout == ""
