"""Property tests: the config reader never raises on damaged input, and string escapes
round-trip."""

from __future__ import annotations

import pytest
from corpus import CORPUS  # noqa: E402
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.cfg.lex import quote_cfg_string, unescape_dq
from tlsmgm_cli.core.cfg.parse import parse_socket, read_config_text

TEXTS = [p.read_text(encoding="utf-8", errors="replace") for p in sorted(CORPUS.glob("*.cfg"))] if CORPUS.is_dir() else []

SAMPLE = """loadmodule "tls_mgm.so"
socket=tls:[::1]:5061 as 1.2.3.4 use_workers 2
modparam("tls_mgm", "server_domain", "d")   # c
modparam('tls_mgm', "certificate", "[d]" "/c.pem")
ifelse(X,`yes',`modparam("a","b",1)',`')dnl
route[r] { if ($ua =~ "x\\"}") { exit; } /* } */ }
x = "multi
line"
"""
SNIPPETS = ['"', "'", "`", "{", "}", "(", ")", "/*", "*/", "#", "\x00", "\\", "\n", "\r\n", "${", "{{{",
            "modparam(", "socket=", "listen=", "include_file \"x.cfg\"\n", "route{", "ifelse(", "dnl", "#!define"]


def mutate(text: str, data: st.DataObject) -> str:
    for _ in range(data.draw(st.integers(1, 6), label="edits")):
        n = len(text)
        a = data.draw(st.integers(0, n), label="start")
        b = data.draw(st.integers(a, min(n, a + 200)), label="end")
        op = data.draw(st.sampled_from(["delete", "insert", "duplicate", "snippet"]), label="op")
        if op == "delete":
            text = text[:a] + text[b:]
        elif op == "insert":
            text = text[:a] + data.draw(st.text(max_size=20), label="ins") + text[a:]
        elif op == "duplicate":
            text = text[:b] + text[a:b] + text[b:]
        else:
            text = text[:a] + data.draw(st.sampled_from(SNIPPETS), label="snippet") + text[a:]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_configs_never_raise(data: st.DataObject, tmp_path_factory: pytest.TempPathFactory) -> None:
    base = data.draw(st.sampled_from([SAMPLE, *TEXTS]), label="base")
    text = mutate(base, data)
    pc = read_config_text(text, "fuzz.cfg", base_dir=str(CORPUS if CORPUS.is_dir() else "/"))
    for d in pc.diagnostics:
        assert d.severity in ("error", "warning", "note")
        assert d.loc is None or d.loc.line >= 1
    for s in pc.statements:
        assert s.loc.line >= 1


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_never_raises(text: str) -> None:
    read_config_text(text, "random.cfg")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("modparamsocket=listen(),\"'`{}[]#/*\\\n :0x19-$route;ifelse")), max_size=200))
def test_cfg_alphabet_never_raises(text: str) -> None:
    read_config_text(text, "alpha.cfg")


@settings(max_examples=500, deadline=None)
@given(st.text())
def test_escape_round_trip(value: str) -> None:
    literal = quote_cfg_string(value)
    assert unescape_dq(literal[1:-1]) == value
    pc = read_config_text(f'modparam("m", "p", {literal})', "rt.cfg")
    assert [m.value for m in pc.modparams] == [value]
    assert pc.diagnostics == []


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_socket_only_raises_value_error(definition: str) -> None:
    try:
        parse_socket(definition)
    except ValueError:
        pass
