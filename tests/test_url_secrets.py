"""Secrets in URLs: the shared masker (core.net.urls), MI URLs with passwords (sent as HTTP
Basic auth through an authenticating proxy in front of our mi_http stand-in, never
printed), bad MI URLs, and passwords in DB URL query strings."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
from cfgtext import mp, write_cfg
from clirun import run
from hypothesis import given
from hypothesis import strategies as st
from miserver import SPEC_REPLY, HttpMi, QuietHTTPServer, answer, free_port, isolate_mi_settings

from tlsmgm_cli import exitcodes
from tlsmgm_cli.core.db import url as db_url
from tlsmgm_cli.core.db.url import parse_db_url
from tlsmgm_cli.core.mi.client import MiError, check_mi_url, http_request_parts
from tlsmgm_cli.core.net import urls
from tlsmgm_cli.core.net.urls import is_secret_name, mask_url

SPEC_ANSWER = answer({"tls_list": SPEC_REPLY})


@pytest.fixture(autouse=True)
def no_opensips_cli_cfg(tmp_path, monkeypatch):
    return isolate_mi_settings(tmp_path, monkeypatch)



class AuthProxy:
    """An HTTP proxy in front of mi_http that demands ``Authorization: Basic`` with
    ``user``/``password`` (401 otherwise) and records what each request carried."""

    def __init__(self, upstream: str, user: str, password: str):
        self.seen: list[dict[str, Any]] = []
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                auth = self.headers.get("Authorization")
                outer.seen.append({"path": self.path, "host": self.headers.get("Host"),
                                   "authorization": auth})
                if auth != expected:
                    self.send_response(401, "Unauthorized")
                    self.send_header("WWW-Authenticate", 'Basic realm="mi"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                forward = urllib.request.Request(upstream, data=body, method="POST",
                                                 headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(forward, timeout=5) as resp:
                    reply = resp.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def url(self, userinfo: str) -> str:
        return f"http://{userinfo}@127.0.0.1:{self.port}/mi"

    def __enter__(self) -> AuthProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()


# ---- the masker ---------------------------------------------------------------------

@pytest.mark.parametrize(("url", "shown"), [
    ("http://user:MIPASS@127.0.0.1:1/mi", "http://user:***@127.0.0.1:1/mi"),
    ("mysql://u:p@ss@w:rd@db:3306/opensips", "mysql://u:***@db:3306/opensips"),
    ("mysql://u:a/b@db/opensips", "mysql://u:***@db/opensips"),
    ("http://u:pa?ss@h/mi", "http://u:***@h/mi"),
    ("http://u:pa#ss@h/mi", "http://u:***@h/mi"),
    ("mysql://u@127.0.0.1:1/db?password=LEAKED", "mysql://u@127.0.0.1:1/db?password=***"),
    ("mysql://u@h/db?charset=utf8&PassWord=p@ss&x=1", "mysql://u@h/db?charset=utf8&PassWord=***&x=1"),
    ("https://h/mi?api_key=K1;token=T2#access-token=T3", "https://h/mi?api_key=***;token=***#access-token=***"),
    ("postgres://u:pw@[::1]:5432/db?sslmode=require", "postgres://u:***@[::1]:5432/db?sslmode=require"),
    ("http://127.0.0.1:8888/mi", "http://127.0.0.1:8888/mi"),
    ("http://h:8888/mi?to=a@b", "http://h:8888/mi?to=a@b"),
    ("http://user@h/mi", "http://user@h/mi"),
    ("sqlite:///var/lib/opensips/db.sqlite", "sqlite:///var/lib/opensips/db.sqlite"),
    ("u:secretpw@h", "u:***@h"),
    ("not a url", "not a url"),
])
def test_mask_url_examples(url, shown):
    assert mask_url(url) == shown


@pytest.mark.parametrize("name", ["password", "passwd", "pass", "pwd", "secret", "token", "key",
                                  "auth", "api_key", "X-Auth-Token", "client.secret", "PASSWORD"])
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["charset", "sslmode", "timeout", "user", "db", ""])
def test_plain_names(name):
    assert not is_secret_name(name)


def test_db_module_mask_url_is_the_shared_masker():
    assert db_url.mask_url is urls.mask_url


passwords = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="?#"),
                    min_size=1, max_size=30).filter(lambda p: "***" not in p)
names = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True)
hosts = st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True)


@given(scheme=st.sampled_from(["http", "https", "mysql", "postgres"]), user=names,
       password=passwords, host=hosts, port=st.integers(1, 65535),
       path=st.sampled_from(["/mi", "/opensips", "/", ""]))
def test_userinfo_password_never_survives(scheme, user, password, host, port, path):
    url = f"{scheme}://{user}:{password}@{host}:{port}{path}"
    assert mask_url(url) == f"{scheme}://{user}:***@{host}:{port}{path}"


values = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="&;#?"),
                 min_size=1, max_size=20)


@given(secret_name=st.sampled_from(["password", "passwd", "pass", "pwd", "secret", "token", "key",
                                    "auth", "Api-Key", "AUTH_TOKEN"]),
       secret=values, plain=st.from_regex(r"[a-z0-9]{1,10}", fullmatch=True))
def test_secret_query_values_never_survive(secret_name, secret, plain):
    url = f"mysql://u@h:3306/db?charset={plain}&{secret_name}={secret}&sslmode={plain}"
    assert mask_url(url) == f"mysql://u@h:3306/db?charset={plain}&{secret_name}=***&sslmode={plain}"


# ---- DB URLs ------------------------------------------------------------------------

def test_db_url_query_password_is_masked_and_scrubbed():
    parsed = parse_db_url("mysql://u@127.0.0.1:1/db?password=LEAKED&charset=utf8")
    assert parsed.masked() == "mysql://u@127.0.0.1:1/db?password=***&charset=utf8"
    assert str(parsed) == parsed.masked()
    assert parsed.scrub("driver said: password=LEAKED") == "driver said: password=***"


def test_db_command_never_prints_a_query_password(tmp_path):
    port = free_port()
    result = run("db", "export", "--out", str(tmp_path / "out"),
                 "--db", f"mysql://u:USERPW@127.0.0.1:{port}/db?password=LEAKED")
    assert result.exit_code == exitcodes.PROBLEMS
    assert "LEAKED" not in result.output and "USERPW" not in result.output
    assert f"mysql://u:***@127.0.0.1:{port}/db?password=***: cannot connect" in result.stderr


def test_list_never_prints_a_db_url_query_password(tmp_path):
    url = f"mysql://opensips@127.0.0.1:{free_port()}/opensips?pwd=LEAKED"
    result = run("list", "-c", str(write_cfg(tmp_path, mp("db_url", url))), "--format", "json",
                 "--no-certs")
    assert result.exit_code == 0, result.output
    assert "LEAKED" not in result.output
    assert json.loads(result.stdout)["globals"]["db_url"] == url.replace("LEAKED", "***")
    assert "?pwd=***: " in result.stderr  # the "cannot read the DB domains" warning


# ---- MI URLs with a password --------------------------------------------------------

def test_unreachable_mi_url_never_prints_the_password():
    port = free_port()
    result = run("mi", "tls_list", "--mi-url", f"http://user:MIPASS@127.0.0.1:{port}/mi")
    assert result.exit_code == exitcodes.PROBLEMS
    assert "MIPASS" not in result.output
    assert f"http://user:***@127.0.0.1:{port}/mi: cannot reach OpenSIPS's mi_http" in result.stderr
    assert "Connection refused" in result.stderr  # not a DNS lookup of "user:MIPASS@127.0.0.1"


def test_password_is_sent_as_basic_auth_through_a_proxy():
    with HttpMi(SPEC_ANSWER) as mi, AuthProxy(mi.url, "admin", "MIPASS") as proxy:
        result = run("mi", "tls_list", "--mi-url", proxy.url("admin:MIPASS"), "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == SPEC_REPLY
    [seen] = proxy.seen
    assert seen["path"] == "/mi" and seen["host"] == f"127.0.0.1:{proxy.port}"
    assert seen["authorization"] == "Basic " + base64.b64encode(b"admin:MIPASS").decode()
    assert [r["method"] for r in mi.requests] == ["tls_list"]


def test_percent_encoded_credentials_are_decoded():
    with HttpMi(SPEC_ANSWER) as mi, AuthProxy(mi.url, "ad min", "p@ss/w:rd") as proxy:
        result = run("mi", "tls_list", "--mi-url", proxy.url("ad%20min:p%40ss%2Fw%3Ard"))
    assert result.exit_code == 0, result.output
    assert "p%40ss" not in result.output


def test_wrong_password_is_exit_1_and_never_printed():
    with HttpMi(SPEC_ANSWER) as mi, AuthProxy(mi.url, "admin", "right") as proxy:
        result = run("mi", "tls_list", "--mi-url", proxy.url("admin:WRONGPW"))
    assert result.exit_code == exitcodes.PROBLEMS
    assert "WRONGPW" not in result.output
    assert f"http://admin:***@127.0.0.1:{proxy.port}/mi: HTTP 401 Unauthorized" in result.stderr
    assert mi.requests == []


def test_no_password_sends_no_authorization_header():
    with HttpMi(SPEC_ANSWER) as mi, AuthProxy(mi.url, "admin", "right") as proxy:
        run("mi", "tls_list", "--mi-url", f"http://127.0.0.1:{proxy.port}/mi")
    assert [s["authorization"] for s in proxy.seen] == [None]


def test_http_request_parts_drop_userinfo_and_fragment():
    url, headers = http_request_parts("https://u:p@[::1]:8888/mi?x=1#frag")
    assert url == "https://[::1]:8888/mi?x=1"
    assert headers["Authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


def test_diff_json_shows_the_masked_server(tmp_path):
    cfg = str(write_cfg(tmp_path, mp("server_domain", "dom") + mp("match_ip_address", "[dom]*")))
    predicted = run("list", "-c", cfg, "--format", "mi", "--no-certs")
    assert predicted.exit_code == 0, predicted.output
    live = answer({"tls_list": json.loads(predicted.stdout)})
    with HttpMi(live) as mi, AuthProxy(mi.url, "admin", "MIPASS") as proxy:
        result = run("diff", "-c", cfg, "--mi-url", proxy.url("admin:MIPASS"),
                     "--format", "json")
    assert result.exit_code == 0, result.output
    assert "MIPASS" not in result.output
    assert json.loads(result.stdout)["server"] == f"http://admin:***@127.0.0.1:{proxy.port}/mi"


# ---- bad MI URLs --------------------------------------------------------------------

@pytest.mark.parametrize(("url", "why"), [
    ("http://127.0.0.1:abc/mi", "the port is not a number from 1 to 65535"),
    ("http://127.0.0.1:99999/mi", "the port is not a number from 1 to 65535"),
    ("http://127.0.0.1:0/mi", "the port is not a number from 1 to 65535"),
    ("ftp://127.0.0.1/mi", "the scheme must be http or https, not 'ftp'"),
    ("127.0.0.1:8888/mi", "the scheme must be http or https"),
    ("http:///mi", "no host"),
    ("http://[::1/mi", "malformed IPv6 address"),
    ("http://u:SECRETPW@127.0.0.1:port/mi", "the port is not a number from 1 to 65535"),
    ("http://u:SECRET/PW@127.0.0.1/mi", "an '@' after the host"),
    ("http://u:12/SECRETPW@127.0.0.1/mi", "an '@' after the host"),
])
def test_bad_mi_url_is_exit_2_with_a_clear_message(url, why):
    result = run("mi", "tls_list", "--mi-url", url)
    assert result.exit_code == exitcodes.USAGE
    assert result.stderr.startswith(f"tlsmgm: error: --mi-url: {mask_url(url)!r} is not a usable "
                                    f"MI URL: {why}")
    assert "SECRET" not in result.output and "internal error" not in result.output


def test_bad_url_in_opensips_cli_cfg_names_the_file(no_opensips_cli_cfg):
    cfg = no_opensips_cli_cfg / ".opensips-cli.cfg"
    cfg.write_text("[default]\ncommunication_type: http\nurl: http://u:SECRETPW@127.0.0.1:abc/mi\n")
    result = run("mi", "tls_list")
    assert result.exit_code == exitcodes.USAGE
    assert f"{cfg}: url: 'http://u:***@127.0.0.1:abc/mi' is not a usable MI URL" in result.stderr
    assert "SECRETPW" not in result.output


def test_check_mi_url_accepts_usable_urls():
    for url in ("http://127.0.0.1:8888/mi", "https://sip1.example.com/mi", "http://[::1]:8888/mi",
                "http://u:p%2Fw@h:1/mi"):
        assert check_mi_url(url).hostname
    with pytest.raises(MiError):
        check_mi_url("http://h:65536/mi")
