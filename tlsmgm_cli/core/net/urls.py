"""Showing URLs without their secrets: the one masker every module uses (MI and DB URLs).

``mask_url`` replaces with ``***``:

* the password of the userinfo (``scheme://user:password@host``). The userinfo ends at
  the LAST ``@`` before the query (a password may contain ``@``, ``:`` or ``/``);
* the value of every query (or fragment) parameter whose name looks secret
  (``password``, ``passwd``, ``pass``, ``pwd``, ``secret``, ``token``, ``key``, ``auth``, …;
  see ``is_secret_name``).

It works on malformed URLs too (it never raises) and errs on the side of masking too
much: a URL is shown to a user only through it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"
_HOST = re.compile(r"[A-Za-z0-9._~%\-\[\]:]*")  # a host name or IP literal, optional :port
# a parameter name containing one of these (case, "-", "_" and "." ignored) holds a secret
SECRET_NAME_PARTS = ("pass", "pwd", "secret", "token", "key", "auth", "cred", "signature")


def is_secret_name(name: str) -> bool:
    """True when a query parameter called ``name`` probably carries a secret."""
    plain = unquote(name).lower()
    for separator in "-_.":
        plain = plain.replace(separator, "")
    return any(part in plain for part in SECRET_NAME_PARTS)


def mask_url(url: str) -> str:
    """``url`` with its userinfo password and secret-looking parameter values as ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    userinfo, after = _split_userinfo(rest)
    shown = after if userinfo is None else f"{_mask_userinfo(userinfo)}@{after}"
    return f"{scheme}{sep}{_mask_parameters(shown)}"


def _split_userinfo(rest: str) -> tuple[str | None, str]:
    """(userinfo or None, what follows its '@').

    The userinfo ends at the last '@' before the first '?' or '#'. When there is no '@'
    there but one follows, and the text before that '?'/'#' is a bare ``name:value``
    (no path), the '?'/'#' belongs to an unencoded password and the last '@' ends it.
    A host cannot hold '@', '?' or '#': when what follows the chosen '@' is no host, a
    later '@' that is followed by one ends the userinfo (the password held '#' or '?')."""
    head_end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    head = rest[:head_end]
    at = head.rfind("@")
    if at < 0 and ":" in head and "/" not in head:
        at = rest.rfind("@")
    if at < 0:
        return None, rest
    if not _is_host(rest[at + 1:]):
        later = rest.rfind("@")
        while later > at and not _is_host(rest[later + 1:]):
            later = rest.rfind("@", at + 1, later)
        if later > at:
            at = later
    return rest[:at], rest[at + 1:]


def _is_host(after_at: str) -> bool:
    """Whether text after an '@' starts with a non-empty host[:port] (up to '/', '?', '#')."""
    end = min((i for i in (after_at.find("/"), after_at.find("?"), after_at.find("#")) if i >= 0),
              default=len(after_at))
    return end > 0 and _HOST.fullmatch(after_at[:end]) is not None


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:{MASK}" if colon else user


def _mask_parameters(text: str) -> str:
    """``text`` (authority, path, query, fragment) with secret parameter values masked."""
    query_at = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=-1)
    if query_at < 0:
        return text
    head, tail = text[:query_at + 1], text[query_at + 1:]
    out: list[str] = []
    item: list[str] = []
    for char in tail + "&":
        if char in "&;#?":
            out.append(_mask_parameter("".join(item)))
            out.append(char)
            item = []
        else:
            item.append(char)
    return head + "".join(out[:-1])


def _mask_parameter(item: str) -> str:
    name, equals, _ = item.partition("=")
    return f"{name}={MASK}" if equals and is_secret_name(name) else item
