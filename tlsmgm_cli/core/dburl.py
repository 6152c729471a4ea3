"""Masking secrets in OpenSIPS DB URLs (``mysql://user:pass@host:port/db``)."""

from __future__ import annotations

import re

_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^:@/]*):(?P<pw>[^@]*)@")


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (the user name is kept)."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url, count=1)
