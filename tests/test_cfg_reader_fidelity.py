"""issue 11, "Config reader: five things OpenSIPS does that tlsmgm did not" (observed on 3.6.8:
behaviour §1.1, §1.3, §1.6, §1.8). Each case is a real config file read by the
commands (check, list, match) and carries OpenSIPS's own message text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from clirun import run
from hypothesis import given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.cfg.parse import read_config, read_config_text

HEADER = 'loadmodule "tls_openssl.so"\nloadmodule "proto_tls.so"\nloadmodule "tls_mgm.so"\n'


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def check_json(cfg: str, *extra: str) -> tuple[int, list[dict]]:
    res = run("check", "-c", cfg, "--format", "json", *extra)
    return res.exit_code, json.loads(res.stdout)["findings"]


def errors(findings: list[dict]) -> list[tuple[str, int, str]]:
    return [(f["rule"], f["line"], f["message"]) for f in findings if f["severity"] == "error"]


# --- 1. ';' after a top-level statement ------------------------------------------------------


def test_semicolon_after_a_top_level_statement_stops_opensips(tmp_path: Path) -> None:
    cfg = write(tmp_path / "semi.cfg", HEADER + (
        'socket=tls:127.0.0.1:5061\n'
        'modparam("tls_mgm", "server_domain", "d1");\n'     # line 5, ';' in column 43
        'modparam("tls_mgm", "match_ip_address", "[d1]*")\n'
        'loadmodule "sl.so";\n'                              # line 7, column 19
        'log_level=3 ;\n'))                                 # line 8, column 13
    pc = read_config(cfg)
    assert [(d.code, d.loc.line, d.message) for d in pc.diagnostics] == [
        ("syntax", 5, f"parse error in {cfg}:5:43-44: syntax error"),
        ("syntax", 7, f"parse error in {cfg}:7:19-20: syntax error"),
        ("syntax", 8, f"parse error in {cfg}:8:13-14: syntax error"),
    ]
    # the statement before the ';' is still read (no cascade of "domain not defined")
    assert [m.param for m in pc.modparams] == ["server_domain", "match_ip_address"]
    status, findings = check_json(cfg)
    assert status == 1
    assert [e for e in errors(findings) if e[0] == "TLS001"] == [
        ("TLS001", 5, f"parse error in {cfg}:5:43-44: syntax error"),
        ("TLS001", 7, f"parse error in {cfg}:7:19-20: syntax error"),
        ("TLS001", 8, f"parse error in {cfg}:8:13-14: syntax error"),
    ]
    listed = run("list", "-c", cfg)
    assert listed.exit_code == 2  # list refuses a config OpenSIPS does not start with
    assert f"parse error in {cfg}:5:43-44: syntax error" in listed.stderr


# --- 2. backslash-newline inside a double-quoted string ---------------------------------------


def _lines_12_13(tmp_path: Path, name: str, value_12: str, value_13: str, after: str = "") -> str:
    """A config whose line 12 ends inside a string with a backslash (the behaviour §1.3 example)."""
    filler = "".join(f"# line {n}\n" for n in range(4, 12))
    return write(tmp_path / name, HEADER + filler + value_12 + "\\\n" + value_13 + after)


def test_backslash_newline_puts_the_line_marker_into_a_filter(tmp_path: Path) -> None:
    cfg = _lines_12_13(
        tmp_path, "filter.cfg",
        'modparam("tls_mgm", "match_sip_domain", "[a]atlanta', '.com")\n',
        after='listen=tls:127.0.0.1:5061\n')  # line 14: later lines keep their numbers
    text = Path(cfg).read_text()
    text = text.replace("# line 4\n# line 5\n", 'modparam("tls_mgm", "server_domain", "a")\n'
                                                'modparam("tls_mgm", "server_domain", "b")\n', 1)
    text = text.replace("# line 6\n# line 7\n", 'modparam("tls_mgm", "match_ip_address", "[a]*")\n'
                                                'modparam("tls_mgm", "match_ip_address", "[b]*")\n', 1)
    Path(cfg).write_text(text)
    pc = read_config(cfg)
    (filt,) = [m for m in pc.modparams if m.param == "match_sip_domain"]
    assert filt.loc.line == 12
    assert filt.value == "[a]atlanta__OSSPP_LINE__ 13\n.com"  # as MI tls_list shows it (behaviour §1.3, §7.3)
    assert [(d.code, d.loc.line) for d in build(cfg) if d.severity != "note"] == [("listen-deprecated", 14)]
    # the filter matches no SNI: atlanta.com falls through to the next domain
    res = run("match", "-c", cfg, "--sni", "atlanta.com", "--format", "json")
    (result,) = json.loads(res.stdout)["results"]
    assert (result["outcome"], result["domain"]) == ("selected", "b")


def build_domains(cfg: str):
    from tlsmgm_cli.core.loader import load_domains

    return load_domains(cfg, use_db=False)


def build(cfg: str):
    return build_domains(cfg).diagnostics


def test_backslash_newline_breaks_a_method(tmp_path: Path) -> None:
    cfg = _lines_12_13(
        tmp_path, "method.cfg", 'modparam("tls_mgm", "tls_method", "[d1]TLSv1_2-', 'TLSv1_3")\n')
    text = Path(cfg).read_text().replace("# line 4\n", 'modparam("tls_mgm", "server_domain", "d1")\n', 1)
    Path(cfg).write_text(text)
    status, findings = check_json(cfg)
    assert status == 1
    assert ("TLS030", 12, "unsupported method [__OSSPP_LINE__ 13\nTLSv1_3]") in errors(findings)


def test_backslash_newline_in_single_quotes_is_kept_literally(tmp_path: Path) -> None:
    """Single-quoted strings have no escapes: the backslash and the newline stay, and the
    marker line that follows the newline is eaten back by the lexer (cfg.lex STRING2)."""
    cfg = _lines_12_13(tmp_path, "sq.cfg", "modparam('tls_mgm', 'match_sip_domain', '[a]atlanta", ".com')\n",
                       after='log_level=1\nmodparam("tls_mgm", "match_sip_domain", "[a]biloxi\\\n.com")\n')
    pc = read_config(cfg)
    assert [m.value for m in pc.modparams] == [
        "[a]atlanta\\\n.com",                 # single quotes, lines 12-13: as written
        "[a]biloxi__OSSPP_LINE__ 16\n.com",  # double quotes, lines 15-16: the marker
    ]
    assert [(s.name, s.loc.line) for s in pc.statements if hasattr(s, "name") and s.name == "log_level"] == [
        ("log_level", 14)]


_WORD = st.text(alphabet="abcxyz.-[]*", min_size=1, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=40), _WORD,
       st.lists(st.tuples(st.sampled_from(["bs-nl", "nl"]), _WORD), max_size=6))
def test_backslash_newline_markers_carry_the_next_line(first_line: int, head: str, rest) -> None:
    """Any mix of raw newlines and backslash-newlines between non-empty pieces: each
    backslash-newline on line L becomes ``__OSSPP_LINE__ L+1`` + newline, a raw newline
    stays a newline, and the statement after the string keeps its line number."""
    literal, expected, line = head, head, first_line
    for sep, word in rest:
        literal += ("\\\n" if sep == "bs-nl" else "\n") + word
        expected += (f"__OSSPP_LINE__ {line + 1}\n" if sep == "bs-nl" else "\n") + word
        line += 1
    text = "\n" * (first_line - 1) + f'modparam("m", "p", "{literal}")\nlog_level=1\n'
    pc = read_config_text(text, "h.cfg")
    assert [(m.value, m.loc.line) for m in pc.modparams] == [(expected, first_line)]
    assert [s.loc.line for s in pc.statements if getattr(s, "name", None) == "log_level"] == [line + 1]
    assert pc.diagnostics == []


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(["\\", "\n", "\\\n", "n", "x", "0", "1", "2", "a", "A", "_",
                                 "__OSSPP_LINE__ 3", " "]), max_size=30).map("".join),
       st.integers(min_value=1, max_value=9))
def test_string_bodies_read_like_the_opensips_lexer(body: str, line: int) -> None:
    """Whatever mix of escapes, newlines, backslash-newlines and marker-like text a
    double-quoted string holds, ``unescape_dq`` (its quick path included) gives what the
    STRING1 rules of cfg.lex give on the pre-pass's annotated text."""
    from tlsmgm_cli.core.cfg.lex import _with_line_markers, unescape_dq

    if body.endswith("\\") and (len(body) - len(body.rstrip("\\"))) % 2:
        body += "a"  # a body cannot end inside an escape (it would escape the closing quote)
    assert unescape_dq(body, line) == _with_line_markers(body, line)


# --- 3. a module regex applies to every loaded module it matches -----------------------------


@pytest.mark.parametrize("regex", ["tls_.*", "(tls_mgm|tls_openssl)"])
def test_module_regex_must_fit_every_loaded_module(tmp_path: Path, regex: str) -> None:
    cfg = write(tmp_path / "re.cfg", HEADER + (
        'modparam("tls_mgm", "server_domain", "d")\n'
        f'modparam("{regex}", "certificate", "[d]/c.pem")\n'))
    diags = [d for d in build(cfg) if d.code == "unknown-param"]
    col = len(f'modparam("{regex}", "certificate", "[d]/c.pem"')  # the column of its ')'
    assert [(d.loc.line, d.message, d.extra["opensips_log"]) for d in diags] == [(
        5, "parameter <certificate> not found in module <tls_openssl>",
        ["parameter <certificate> not found in module <tls_openssl>",
         f"parse error in {cfg}:5:{col + 1}-{col + 2}: Parameter <certificate> not found in module <{regex}> "
         "- can't set"])]
    status, findings = check_json(cfg)
    assert status == 1
    assert ("TLS012", 5, "parameter <certificate> not found in module <tls_openssl>") in errors(findings)


@pytest.mark.parametrize("module, code, rule, message", [
    ("proto_tlz", "modparam-no-module", "TLS008", "no module matching proto_tlz found"),
    ("tls_mgm.so", "modparam-no-module", "TLS008", "no module matching tls_mgm.so found"),
    ("tls_mgm(", "modparam-bad-regex", "TLS009", "failed to compile regular expression"),
    ("(?i)tls_mgm", "modparam-bad-regex", "TLS009", "failed to compile regular expression"),
])
def test_modparam_for_no_loaded_module_stops_opensips(tmp_path: Path, module: str, code: str, rule: str,
                                                      message: str) -> None:
    """set_mod_param_regex fails for any module name, not only tls_mgm's: no module
    matches ^(NAME)$, or NAME does not compile as a POSIX ERE (behaviour §1.8)."""
    cfg = write(tmp_path / "nomod.cfg", HEADER + (
        'modparam("tls_mgm", "server_domain", "d")\n'
        f'modparam("{module}", "client_sip_domain_avp", "tls_sip_dom")\n'))
    diags = [d for d in build(cfg) if d.code == code]
    col = len(f'modparam("{module}", "client_sip_domain_avp", "tls_sip_dom"')
    assert [(d.loc.line, d.message, d.extra["opensips_log"]) for d in diags] == [(5, message, [
        message, f"parse error in {cfg}:5:{col + 1}-{col + 2}: Parameter <client_sip_domain_avp> not found in "
                 f"module <{module}> - can't set"])]
    status, findings = check_json(cfg, "--no-db")
    assert status == 1 and (rule, 5, message) in errors(findings)
    assert [f["stops_start"] for f in findings if f["rule"] == rule] == [True]


def test_module_regex_in_posix_syntax(tmp_path: Path) -> None:
    """A POSIX class in the module name is understood ([[:alpha:]] is no Python syntax)."""
    cfg = write(tmp_path / "posix.cfg", HEADER + (
        'modparam("tls_mgm", "server_domain", "d")\n'
        'modparam("tls_mg[[:alpha:]]", "ca_dir", "[d]/ca")\n'))
    assert not [d for d in build(cfg) if d.severity == "error" and d.code.startswith("modparam")]
    assert build_domains(cfg).server[0].ca_dir == "/ca"


def test_module_regex_on_known_and_unknown_modules(tmp_path: Path) -> None:
    cfg = write(tmp_path / "mods.cfg", HEADER + (
        'loadmodule "usrloc.so"\n'
        'modparam("tls_mgm", "server_domain", "d")\n'
        'modparam("proto_tls", "tls_port", "5062")\n'            # line 6: tls_port is a number
        'modparam("tls_mgm|usrloc", "ca_list", "[d]/ca.pem")\n'  # line 7: usrloc's parameters unknown
        'modparam("tls_m.*", "ca_dir", "[d]/ca")\n'))            # line 8: matches tls_mgm only: fine
    diags = build(cfg)
    assert [(d.severity, d.code, d.loc.line, d.message) for d in diags if d.code != "tls-library-none"
            and d.severity != "note"][:2] == [
        ("error", "type-mismatch", 6, "type mismatch for parameter <tls_port> in module <proto_tls>"),
        ("warning", "modparam-unknown-module", 7,
         "modparam module regex 'tls_mgm|usrloc' also matches the loaded module(s) usrloc, whose parameters "
         "tlsmgm does not know: whether they have <ca_list> is not checked (OpenSIPS does not start if one "
         "of them lacks it)"),
    ]
    assert not [d for d in diags if d.loc is not None and d.loc.line == 8]


def test_misspelled_parameter_gets_did_you_mean(tmp_path: Path) -> None:
    cfg = write(tmp_path / "typo.cfg", HEADER + 'modparam("tls_mgm", "certficate", "[d]/c.pem")\n')
    (diag,) = [d for d in build(cfg) if d.code == "unknown-param"]
    assert diag.message == "parameter <certficate> not found in module <tls_mgm>"
    assert diag.hint.startswith("did you mean `certificate`?")
    res = run("check", "-c", cfg)
    assert "did you mean `certificate`?" in res.stdout + res.stderr


# --- 4. an IPv6 listener without brackets ------------------------------------------------------


def test_unbracketed_ipv6_listener_is_a_syntax_error(tmp_path: Path) -> None:
    cfg = write(tmp_path / "v6.cfg", HEADER + (
        'socket=tls:::1:5071\n'
        'modparam("tls_mgm", "server_domain", "d")\n'
        'modparam("tls_mgm", "match_ip_address", "[d]::1:5071")\n'))  # a filter may omit them
    status, findings = check_json(cfg)
    assert status == 1
    assert [e for e in errors(findings) if e[0] in ("TLS001", "TLS022")] == [
        ("TLS001", 4, f"parse error in {cfg}:4:11-13: syntax error")]
    assert read_config(cfg).sockets == []


# --- 5. a listener given by host name --------------------------------------------------------


def test_hostname_listener_is_served_on_its_resolved_address(tmp_path: Path) -> None:
    cfg = write(tmp_path / "host.cfg", HEADER + (
        'socket=tls:localhost:5077\n'
        'modparam("tls_mgm", "server_domain", "local")\n'
        'modparam("tls_mgm", "match_ip_address", "[local]127.0.0.1:5077")\n'
        'modparam("tls_mgm", "server_domain", "any")\n'
        'modparam("tls_mgm", "match_ip_address", "[any]*")\n'))
    (sock,) = read_config(cfg).sockets
    assert (sock.host, sock.hostname, sock.port) == ("127.0.0.1", "localhost", 5077)
    res = run("match", "-c", cfg, "--sni", "a.example.com", "--format", "json")
    assert res.exit_code == 0, res.stderr
    assert [(r["socket"], r["domain"]) for r in json.loads(res.stdout)["results"]] == [
        ("127.0.0.1:5077", "local")]


def test_unresolvable_listener_host_is_a_warning_naming_it(tmp_path: Path) -> None:
    cfg = write(tmp_path / "nohost.cfg", HEADER + 'socket=tls:no_such_host.invalid:5061\n')
    pc = read_config(cfg)
    (diag,) = pc.diagnostics
    assert (diag.severity, diag.code, str(diag.loc)) == ("warning", "socket-unresolved", f"{cfg}:4")
    assert diag.message.startswith("could not resolve no_such_host.invalid here (")
    assert "OpenSIPS does not start" in diag.message  # fix_socket_list: "could not resolve", goto error
    assert pc.sockets[0].host == "no_such_host.invalid" and pc.sockets[0].hostname is None
    res = run("check", "-c", cfg, "--no-db")
    assert "warning TLS049 could not resolve no_such_host.invalid here" in res.stdout
    assert res.stdout.rstrip().endswith("as far as checked: a listener's host name must resolve on the "
                                        "server (TLS049)."), res.stdout


# --- bytes that are not UTF-8 stay bytes ------------------------------------------------------


def test_non_utf8_config_bytes_open_the_same_file_and_match_the_same_sni(tmp_path: Path, pki) -> None:
    """OpenSIPS reads the config as bytes: a path with byte 0xE9 opens the file whose name
    holds that byte, and a filter with it matches exactly that SNI byte (behaviour §1.1)."""
    cert = tmp_path.joinpath("caf\udce9.pem")  # the file name's byte 0xE9 (surrogateescape)
    cert.write_bytes(pki.server.cert_path.read_bytes())
    body = (HEADER + 'socket=tls:10.0.0.10:5061\n'
            'modparam("tls_mgm", "server_domain", "l1")\n'
            'modparam("tls_mgm", "match_sip_domain", "[l1]caf\xe9.org")\n'
            f'modparam("tls_mgm", "certificate", "[l1]{tmp_path}/caf\xe9.pem")\n'
            f'modparam("tls_mgm", "private_key", "[l1]{pki.server.key_path}")\n').encode("latin-1")
    cfg = tmp_path / "latin1.cfg"
    cfg.write_bytes(body)
    listed = run("list", "-c", str(cfg), "--no-db", "--format", "json")
    assert listed.exit_code == 0, listed.output
    dom = json.loads(listed.stdout)["domains"][0]
    assert dom["sip_domains"] == ["caf\udce9.org"]  # JSON keeps the byte as \udce9
    assert "error" not in dom["cert"], dom["cert"]  # the certificate file was found and read
    text = run("list", "-c", str(cfg), "--no-db")
    assert "caf\\xe9.org" in text.stdout  # shown escaped, not as another character
    matched = run("match", "-c", str(cfg), "--no-db", "--socket", "10.0.0.10:5061",
                  "--sni", "caf\udce9.org")  # argv byte 0xE9
    assert matched.exit_code == 0 and "l1" in matched.stdout, matched.output
    other = run("match", "-c", str(cfg), "--no-db", "--socket", "10.0.0.10:5061", "--sni", "café.org")
    assert other.exit_code == 1, other.output  # é in UTF-8 is two other bytes
