"""`tlsmgm match` under hostile input (issue 12, items 7, 10 and 12).

* wildcard-heavy patterns never stall the matcher (polynomial, glibc-exact);
* ``--batch`` streams: a line written to a pipe is answered before the next one is sent,
  memory stays flat in the input size, and one line is capped at BATCH_LINE_MAX_BYTES;
* a run whose output pipe closes early exits with the status it had reached.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cfgtext import mp, write_cfg
from clirun import assert_no_internal_error, run
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core import limits
from tlsmgm_cli.core.domain import SERVER, TlsDomain
from tlsmgm_cli.core.matching.fnmatch_posix import fnmatch
from tlsmgm_cli.core.matching.matcher import AddressArray, MapEntry, pattern_rank

SNI_250 = "a" * 250  # no 'b': every way of splitting it over the stars is tried and fails
PATHOLOGICAL = ["[a]*a*a*a*a*b", "[a]*a*a*a*a*a*b", "*a*a*a*a*a*a*a*a*a*a*a*a*b",
                "*?*?*?*?*?*?*?*b", "[a]*[a]*[a]*[a]*[a]*[a]*c"]
KEY = "10.0.0.10:5061"


def _env() -> dict[str, str]:
    env = {**os.environ}
    env.pop("TLSMGM_DEBUG", None)
    return env


@pytest.fixture(scope="module")
def cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    body = "socket=tls:10.0.0.10:5061\n"
    for i, pattern in enumerate(["good.example.com", *PATHOLOGICAL]):
        body += (mp("server_domain", f"d{i}") + mp("match_ip_address", f"[d{i}]{KEY}")
                 + mp("match_sip_domain", f"[d{i}]{pattern}"))
    return str(write_cfg(tmp_path_factory.mktemp("cfg"), body))


# ---------------------------------------------------------------------------------------
# The matcher: polynomial


# In-process tests use 120 bytes (a backtracking matcher needs ~0.3 s for one lookup
# there, 11 s at 250 bytes and far longer with more stars); the real-process tests below
# use the full 250 bytes and more stars.
SNI_120 = "a" * 120


def test_pathological_pattern_is_fast_in_fnmatch() -> None:
    start = time.perf_counter()
    for casefold in (True, False):
        assert fnmatch("[a]*a*a*a*a*b", SNI_120, casefold) is False
        assert fnmatch("[a]*a*a*a*a*b", SNI_120 + "B", casefold) is casefold
    took = time.perf_counter() - start
    assert took < 0.05, f"4 fnmatch calls took {took:.2f} s"


def test_pathological_patterns_are_fast_in_one_address_array() -> None:
    dom = TlsDomain("d", SERVER)
    patterns = ["[a]*a*a*a*a*b", "*?*?*?*?*?*b"]
    arr = AddressArray("*", [MapEntry(p, dom, pattern_rank(p)) for p in patterns], True)
    start = time.perf_counter()
    assert arr.first_match(SNI_120) is None
    assert arr.first_match(SNI_120[:-1] + "b") == 0
    took = time.perf_counter() - start
    assert took < 0.05, f"two lookups took {took:.2f} s"


def test_match_command_answers_pathological_snis_at_once(cfg: str) -> None:
    """A real process (so that the old exponential matcher fails by timeout, not by
    stalling the test run): a batch of hostile SNIs, answered well under a second each."""
    queries = "".join(json.dumps({"socket": KEY, "sni": sni}) + "\n"
                      for sni in (SNI_250, SNI_250[:-1] + "c", "good.example.com"))
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", "-"],
                          input=queries.encode(), capture_output=True, timeout=20, env=_env(), check=False)
    took = time.monotonic() - start
    assert_no_internal_error(proc.returncode, proc.stdout, proc.stderr)
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["domain"] for r in rows] == [None, "d5", "d0"]
    assert proc.returncode == 1
    assert took < 10


# ---------------------------------------------------------------------------------------
# --batch streams


def _read_line(fd: int, timeout: float) -> bytes:
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        assert left > 0, f"no answer within {timeout} s while the input stays open (got {buf!r})"
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 1)
            assert chunk, f"the process ended (got {buf!r})"
            buf += chunk
    return buf


def test_batch_from_a_pipe_answers_each_line_before_the_next_arrives(cfg: str) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env())
    try:
        fd = proc.stdout.fileno()
        proc.stdin.write(json.dumps({"socket": KEY, "sni": "good.example.com"}).encode() + b"\n")
        proc.stdin.flush()
        first = json.loads(_read_line(fd, 20))
        assert first["domain"] == "d0"
        proc.stdin.write(b'{"socket": "10.0.0.10:5061", "sni": "nothing.test"}\n')
        proc.stdin.flush()
        second = json.loads(_read_line(fd, 10))
        assert second["outcome"] == "rejected"
        proc.stdin.write(b"not json\n")
        proc.stdin.flush()
        assert json.loads(_read_line(fd, 10)) == {"line": 3, "error": "not JSON: Expecting value: column 1"}
        proc.stdin.close()
        assert proc.wait(20) == 1
        assert proc.stdout.read() == b""
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


def _peak_rss_mib(lines: int, cfg: str) -> tuple[float, int]:
    """Feed ``lines`` distinct queries through a pipe; (the child's peak RSS, answers)."""
    proc = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env=_env())

    def feed() -> None:
        try:
            block = []
            for i in range(lines):
                block.append(b'{"socket": "10.0.0.10:5061", "sni": "h%d.example.com"}\n' % i)
                if len(block) == 2000:
                    proc.stdin.write(b"".join(block))
                    block = []
            proc.stdin.write(b"".join(block))
        finally:
            proc.stdin.close()

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    answers = 0
    while True:
        chunk = proc.stdout.read1(1 << 16)
        if not chunk:
            break
        answers += chunk.count(b"\n")
    writer.join(60)
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    assert proc.returncode == 1  # h<i>.example.com matches no pattern
    return usage.ru_maxrss / 1024, answers


@pytest.mark.slow
def test_batch_memory_is_flat_in_the_input_size(cfg: str) -> None:
    small, small_answers = _peak_rss_mib(1_000, cfg)
    big, big_answers = _peak_rss_mib(300_000, cfg)
    assert (small_answers, big_answers) == (1_000, 300_000)
    # reading everything first needed ~260 MiB more for 300k lines (870 MB for 1M)
    assert big - small < 25, f"peak RSS {small:.0f} MiB for 1k lines, {big:.0f} MiB for 300k"


def test_overlong_line_is_one_error_and_the_rest_still_runs(cfg: str) -> None:
    limit = limits.BATCH_LINE_MAX_BYTES
    data = (b'{"socket": "10.0.0.10:5061", "sni": "' + b"x" * limit + b'"}\n'
            + b'{"socket": "10.0.0.10:5061", "sni": "good.example.com"}\n'
            + b"\n" + b"y" * (3 * limit))  # the last line has no newline either
    res = run("match", "-c", cfg, "--batch", "-", input=data)
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    message = f"line longer than {limit // 1024} KiB (the limit of one --batch line); skipped"
    assert rows == [{"line": 1, "error": message}, {**rows[1], "domain": "d0"},
                    {"line": 4, "error": message}]
    assert res.exit_code == 1


def test_overlong_line_in_text_and_json_formats(cfg: str) -> None:
    data = b"z" * (limits.BATCH_LINE_MAX_BYTES + 1) + b"\n"
    text = run("match", "-c", cfg, "--batch", "-", "--format", "text", input=data)
    assert text.stdout.startswith("line 1: error: line longer than") and text.exit_code == 1
    doc = run("match", "-c", cfg, "--batch", "-", "--format", "json", input=data)
    assert json.loads(doc.stdout)["results"][0]["line"] == 1 and doc.exit_code == 1


def _cap_memory() -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_batch_from_an_endless_device_is_refused(cfg: str, device: str) -> None:
    """A real process with its memory capped at 1 GiB: reading such a device whole would
    take all the machine's memory."""
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", device],
                          capture_output=True, timeout=30, env=_env(), preexec_fn=_cap_memory,
                          check=False)
    assert_no_internal_error(proc.returncode, proc.stdout, proc.stderr)
    assert proc.returncode == 2
    assert b"is a character device" in proc.stderr


# ---------------------------------------------------------------------------------------
# The line reader (a parser: properties against bytes.splitlines)


def _chunked_reader(data: bytes, cuts: list[int]):
    """A read1-like function returning ``data`` in pieces cut at ``cuts``."""
    points = sorted({c for c in cuts if 0 < c < len(data)}) + [len(data)]
    pieces = [data[a:b] for a, b in zip([0, *points[:-1]], points, strict=True)]

    def read(_size: int) -> bytes:
        return pieces.pop(0) if pieces else b""
    return read


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"x" * 7, b" "]), max_size=40),
       st.lists(st.integers(0, 200), max_size=12), st.integers(1, 9))
def test_line_chunks_equal_splitlines(parts: list[bytes], cuts: list[int], limit: int) -> None:
    from tlsmgm_cli.core.matching.batch import read_line_chunks

    data = b"".join(parts)
    got = [line for chunk in read_line_chunks(_chunked_reader(data, cuts), limit=limit) for line in chunk]
    assert got == [None if len(line) > limit else line for line in data.splitlines()]


def test_engine_numbers_lines_across_chunks(cfg: str) -> None:
    from tlsmgm_cli.core.loader import load_domains
    from tlsmgm_cli.core.matching.batch import BatchEngine
    from tlsmgm_cli.core.matching.matcher import ANSWER_FIELDS, QUERY_FIELDS, DomainMatcher
    from tlsmgm_cli.render.match import JsonLinesEncoder

    lines = [b"oops", b'{"socket": "10.0.0.10:5061", "sni": "good.example.com"}', b"", b"[1]"] * 3
    matcher = DomainMatcher(load_domains(cfg))
    whole = BatchEngine(matcher).encoded(lines, JsonLinesEncoder(QUERY_FIELDS, ANSWER_FIELDS))
    engine = BatchEngine(matcher)
    encoder = JsonLinesEncoder(QUERY_FIELDS, ANSWER_FIELDS)
    pieces = [engine.encoded(lines[i:i + 5], encoder) for i in range(0, len(lines), 5)]
    assert [line for piece in pieces for line in piece] == whole
    rows = [json.loads(line) for line in whole]
    assert [r["line"] if "error" in r else r["domain"] for r in rows] == [1, "d0", 4, 5, "d0", 8, 9, "d0", 12]
    assert engine.failed


# ---------------------------------------------------------------------------------------
# Exit status on a closed pipe


@pytest.mark.parametrize("first_matches", [True, False])
def test_closed_pipe_keeps_the_status_reached(cfg: str, tmp_path: Path, first_matches: bool) -> None:
    """`tlsmgm match --batch Q | head -1` under pipefail: 1 when any query had no match
    before the pipe closed, never 0."""
    queries = tmp_path / "q.jsonl"
    good = json.dumps({"socket": KEY, "sni": "good.example.com"})
    bad = json.dumps({"socket": KEY, "sni": "nothing.test"})
    with open(queries, "w") as fh:
        fh.write((good + "\n" if first_matches else "") + bad + "\n")
        for i in range(30_000):
            fh.write(json.dumps({"socket": KEY, "sni": f"h{i}.good.example.com"}) + "\n")
    cmd = (f"set -o pipefail; {sys.executable} -m tlsmgm_cli match -c {cfg} --batch {queries} "
           "| head -1 >/dev/null")
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, timeout=60, env=_env(), check=False)
    assert_no_internal_error(proc.returncode, proc.stdout, proc.stderr)
    assert proc.returncode == 1, proc.stderr


# ---------------------------------------------------------------------------------------
# Untrusted query text in the output

HOSTILE_SNI = "a\x1b]0;pwned\x07\udcffb"  # an OSC retitle sequence and a byte that is not UTF-8


@pytest.fixture(scope="module")
def star_cfg(tmp_path_factory: pytest.TempPathFactory) -> str:
    body = "socket=tls:10.0.0.10:5061\n" + mp("server_domain", "d1") + mp("match_sip_domain", "[d1]*")
    return str(write_cfg(tmp_path_factory.mktemp("star"), body))


def _match(cfg: str, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--no-db",
                           "--socket", KEY, "--sni", HOSTILE_SNI, *extra],
                          capture_output=True, env=_env(), timeout=60)
    assert_no_internal_error(proc.returncode, proc.stdout.decode("utf-8", "replace"),
                             proc.stderr.decode("utf-8", "replace"))
    return proc


def test_explain_escapes_the_sni_on_every_line(star_cfg: str) -> None:
    proc = _match(star_cfg, "--explain")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("utf-8")  # valid UTF-8: the raw 0xff byte is shown as \xff
    assert "\x1b" not in text and "\x07" not in text
    rule = [ln for ln in text.splitlines() if ln.startswith("  rule:")]
    assert rule and rule[0].startswith("  rule: SNI 'a\\x1b]0;pwned\\x07\\xffb' matches any pattern '*'")


def test_json_keeps_the_sni_exact_and_stays_valid_utf8(star_cfg: str) -> None:
    proc = _match(star_cfg, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout.decode("utf-8"))  # strict UTF-8 decode: no raw 0xff byte
    assert doc["results"][0]["sni"] == HOSTILE_SNI and doc["results"][0]["domain"] == "d1"
