"""Property: `tlsmgm match --batch -` answers every non-blank line of ANY input, in order.

Random lines (well-formed queries, JSON with lone surrogates written as \\u escapes, deep
nesting, JSON-ish fragments, random text, random bytes, non-UTF-8) never end the batch:
no exit 2, no "internal error", exactly one answer per non-blank input line, in order -
an error line names its own line number, a well-formed query gets its own result.
"""

from __future__ import annotations

import json

import pytest
from cfgtext import mp, write_cfg
from clirun import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SOCKETS = ["10.0.0.10:5061", "10.0.0.10:5062", "192.0.2.1:5061", "[::1]:5061"]
BODY = (
    "socket=tls:10.0.0.10:5061\n"
    + mp("server_domain", "dom1") + mp("match_ip_address", "[dom1]10.0.0.10:5061")
    + mp("match_sip_domain", "[dom1]*.example.com")
    + mp("server_domain", "wide") + mp("match_ip_address", "[wide]*")
    + mp("match_sip_domain", "[wide]none")
    + mp("client_domain", "cli") + mp("match_sip_domain", "[cli]example.com")
)
NEWLINES = str.maketrans("", "", "\r\n")


@pytest.fixture(scope="module")
def cfg(tmp_path_factory) -> str:
    return str(write_cfg(tmp_path_factory.mktemp("cfg"), BODY))


# A generated line: (its bytes, the (socket, sni) of a well-formed server query or None).
def _bytes_only(data: bytes) -> tuple[bytes, None]:
    return data.replace(b"\r", b"").replace(b"\n", b""), None


def _text_only(text: str) -> tuple[bytes, None]:
    return _bytes_only(text.encode("utf-8", "surrogatepass"))


well_formed = st.builds(
    lambda socket, sni, ascii_only: (
        json.dumps({"socket": socket, "sni": sni}, ensure_ascii=ascii_only).encode(), (socket, sni)),
    st.sampled_from(SOCKETS), st.text(max_size=20), st.booleans())

lone_surrogate = st.builds(
    lambda code, where: _text_only(where.replace("S", f"\\u{code:04x}")),
    st.integers(0xD800, 0xDFFF),
    st.sampled_from(['{"socket": "10.0.0.10:5061", "sni": "S"}', '{"socket": "S"}',
                     '{"S": 1}', '{"client": true, "dest": "1.2.3.4:5", "sip_domain": "aS"}',
                     '{"client": true, "tls_domain": "S"}', '["S"]', '"S"',
                     '{"socket": "10.0.0.10:5061", "x": [[{"y": "S"}]]}']))

deep_nesting = st.builds(
    lambda opener, depth: _text_only(opener * depth),
    st.sampled_from(["[", "{\"a\": ", "[{\"s\": "]), st.sampled_from([1, 50, 5_000, 100_000]))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8)
query_like = st.builds(
    lambda d: _text_only(json.dumps(d, ensure_ascii=False)),
    st.dictionaries(st.sampled_from(["socket", "sni", "client", "dest", "sip_domain",
                                     "tls_domain"]) | st.text(max_size=4),
                    json_values | st.sampled_from(SOCKETS), max_size=4))

random_text = st.text(st.characters() | st.integers(0xD800, 0xDFFF).map(chr),  # surrogates too
                      max_size=40).map(_text_only)
random_bytes = st.binary(max_size=40).map(_bytes_only)
blank = st.sampled_from([b"", b"   ", b"\t", "\u3000".encode()]).map(lambda b: (b, None))

lines = st.lists(well_formed | lone_surrogate | deep_nesting | query_like | random_text
                 | random_bytes | blank, min_size=1, max_size=12)


def _is_blank(line: bytes) -> bool:
    try:
        return not line.decode("utf-8").strip()
    except UnicodeDecodeError:
        return False


def _answered(generated: list[tuple[bytes, tuple[str, str] | None]]) -> list[tuple[int, tuple | None]]:
    """(line number, expected (socket, sni) or None) of every non-blank line."""
    return [(n, query) for n, (raw, query) in enumerate(generated, 1) if not _is_blank(raw)]


def _check_answers(rows: list[dict], generated) -> None:
    expected = _answered(generated)
    assert len(rows) == len(expected)
    for row, (number, query) in zip(rows, expected, strict=True):
        if "error" in row:
            assert set(row) == {"line", "error"} and row["line"] == number
            assert query is None, row  # a well-formed query is always answered
        elif query is not None:
            assert (row["side"], row["sni"]) == ("server", query[1])
            assert row["outcome"] in ("selected", "rejected", "dropped")


def _run(cfg: str, generated, *args: str):
    data = b"".join(raw + b"\n" for raw, _ in generated)
    res = run(*["match", "-c", cfg, "--batch", "-", *args], input=data)
    assert res.exit_code in (0, 1), (res.exit_code, res.output)
    assert "internal error" not in res.output and "Traceback" not in res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    return res


PROPS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.function_scoped_fixture])


@PROPS
@given(generated=lines, explain=st.booleans())
def test_json_lines_one_answer_per_line_in_order(cfg, generated, explain):
    res = _run(cfg, generated, *(["--explain"] if explain else []))
    out = res.stdout_bytes
    assert out == b"" or out.endswith(b"\n")
    _check_answers([json.loads(line) for line in out.split(b"\n")[:-1]], generated)


@PROPS
@given(generated=lines)
def test_json_document_one_answer_per_line_in_order(cfg, generated):
    res = _run(cfg, generated, "--format", "json")
    _check_answers(json.loads(res.stdout_bytes)["results"], generated)


@PROPS
@given(generated=lines)
def test_text_one_line_per_line(cfg, generated):
    res = _run(cfg, generated, "--format", "text")
    heads = [line for line in res.stdout_bytes.decode().split("\n")[:-1] if not line.startswith("  ")]
    expected = _answered(generated)
    if not expected:
        assert heads == []  # no answer at all prints nothing
        return
    assert len(heads) == len(expected)
    for head, (number, _) in zip(heads, expected, strict=True):
        assert not head.startswith("line ") or head.startswith(f"line {number}: error: ")
