"""OpenSIPS DB URLs: parsing and password masking."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.db.url import mask_url, parse_db_url
from tlsmgm_cli.core.errors import TlsmgmError


def test_forms():
    u = parse_db_url("mysql://opensips:opensipsrw@db.example.com:3307/opensips")
    assert (u.backend, u.user, u.password, u.host, u.port, u.database) == \
        ("mysql", "opensips", "opensipsrw", "db.example.com", 3307, "opensips")
    assert u.masked() == "mysql://opensips:***@db.example.com:3307/opensips"
    p = parse_db_url("postgres://u:p@[::1]/db")
    assert (p.backend, p.host, p.port) == ("postgres", "::1", None)
    s = parse_db_url("sqlite:///var/lib/opensips/db.sqlite")
    assert (s.backend, s.database) == ("sqlite", "/var/lib/opensips/db.sqlite")
    assert parse_db_url("mysql://u:p@@ss@h/db").password == "p@@ss"


@pytest.mark.parametrize("bad", ["mysql:/x", "oracle://u:p@h/db", "sqlite://relative.db",
                                 "mysql://u:topsecret@h:99999/db", "mysql://u:topsecret@h"])
def test_bad_urls_never_show_the_password(bad):
    with pytest.raises(TlsmgmError) as err:
        parse_db_url(bad)
    assert "topsecret" not in str(err.value)


passwords = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?"),
                    min_size=4, max_size=30).filter(lambda p: "***" not in p)


@given(user=st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True), password=passwords,
       host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True))
def test_password_never_survives_masking(user, password, host):
    url = f"mysql://{user}:{password}@{host}:3306/opensips"
    masked = mask_url(url)
    assert masked == f"mysql://{user}:***@{host}:3306/opensips"
    parsed = parse_db_url(url)
    assert parsed.password == password and parsed.user == user and parsed.host == host
    assert parsed.masked() == masked


def test_sqlite_path_with_extra_slash_and_uri_characters(tmp_path):
    """sqlite:////abs (SQLAlchemy habit) and paths with "#", "%" or spaces open the right file."""
    from tlsmgm_cli.core.db.backend import connect

    odd = tmp_path / "odd#x%20 name.db"
    for url in (f"sqlite:///{odd}", f"sqlite:////{str(odd).lstrip('/')}"):
        with connect(url, create=True) as db:
            assert db is not None
    assert odd.exists()
    assert not (tmp_path / "odd").exists()
