"""core/cfg/ere.py against glibc itself: ``regcomp(REG_EXTENDED|REG_NOSUB|REG_ICASE)`` and
``regexec`` through ctypes decide, for generated module-name arguments, whether OpenSIPS
compiles ``^(ARG)$`` and which module names it matches (behaviour §1.8)."""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import sys
import time

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from tlsmgm_cli.core.cfg.ere import modparam_matcher, translate, translated

REG_EXTENDED, REG_ICASE, REG_NOSUB = 1, 2, 8
_libc_name = ctypes.util.find_library("c")
_libc = ctypes.CDLL(_libc_name) if _libc_name and sys.platform.startswith("linux") else None
needs_glibc = pytest.mark.skipif(_libc is None or not hasattr(_libc, "gnu_get_libc_version"),
                                 reason="the oracle is glibc's regcomp/regexec")

MODULES = ["tls_mgm", "tls_openssl", "tls_wolfssl", "proto_tls", "proto_wss", "TLS_MGM", "tls", "tls_",
           "a)", "mgm", "usrloc", "tls_mgm2", ""]


def glibc(module_arg: str, names: list[str]) -> list[bool] | None:
    """What OpenSIPS's set_mod_param_regex sees: None when regcomp fails, else a match per name."""
    assert _libc is not None
    preg = ctypes.create_string_buffer(1024)  # sizeof(regex_t) is 64 on x86-64 glibc
    if _libc.regcomp(preg, f"^({module_arg})$".encode(), REG_EXTENDED | REG_NOSUB | REG_ICASE) != 0:
        return None
    try:
        return [_libc.regexec(preg, name.encode(), 0, None, 0) == 0 for name in names]
    finally:
        _libc.regfree(preg)


def ours(module_arg: str, names: list[str]) -> list[bool] | None:
    """The Python translation (the path used where glibc is not at hand)."""
    pattern, _nested = translated(f"^({module_arg})$")
    if pattern is None:
        return None
    compiled = re.compile(pattern, re.IGNORECASE)
    return [compiled.search(name) is not None for name in names]


@needs_glibc
@pytest.mark.parametrize("arg", [
    "tls_mgm", "TLS_MGM", "tls_.*", "(tls_mgm|tls_openssl)", "tls_mgm|proto_tls", ".*", "proto_.*",
    "tls_mg[[:alpha:]]", "tls_[[:lower:]]+", "tls_m[^x]m", "tls_mgm.so", "tls_mgm(", "(?i)tls_mgm",
    "a)", "a)|(tls", "*tls", "tls**", "tls_m*+gm", "tls_m{1,2}gm", "tls_m{2,1}gm", "tls_m{,2}gm",
    "tls\\_mgm", "tls_mgm\\", "[]tls]+_mgm", "[a-", "[[:nope:]]", "tls_\\<mgm", "t\\wls_mgm",
    "tls_mgm$", "^tls_mgm", "tls_(mgm)\\1", "(tls)_mgm\\1?", "tls_[m-m]gm", "tls_[z-a]gm", "",
])
def test_known_arguments_compile_and_match_like_glibc(arg: str) -> None:
    assert ours(arg, MODULES) == glibc(arg, MODULES), arg


_ALPHABET = st.sampled_from(list("tlsmg_.*+?|()[]^$-{},:\\0129") + ["[:alpha:]", "[:digit:]", "[:upper:]"])


@needs_glibc
@settings(max_examples=3000, deadline=None)
@given(st.lists(_ALPHABET, max_size=10).map("".join))
@example("tls_m{0}gm")
@example("(|tls_mgm)")
@example("tls_mgm|")
def test_generated_arguments_agree_with_glibc(arg: str) -> None:
    assume(not translated(f"^({arg})$")[1])  # (a*)* may take Python's re exponential time
    expected = glibc(arg, MODULES)
    got = ours(arg, MODULES)
    if expected is None:
        assert got is None, (arg, translate(f"^({arg})$"))
    else:
        assert got == expected, (arg, translate(f"^({arg})$"))


@needs_glibc
@pytest.mark.parametrize("arg", ["((t*)*)*x", "(.*)*(.*)*(.*)*z", "((l|s|t|_)*)*q", "tls_mgm", "tls_.*", "a("])
def test_modparam_matcher_is_glibc_itself_and_fast(arg: str) -> None:
    """Where glibc is at hand the module argument is compiled by regcomp itself: exact, and
    never the exponential backtracking Python's re does on repeated repetitions."""
    names = ["tls_openssl" * 3, "tls_mgm", "t" * 40]
    started = time.monotonic()
    matcher = modparam_matcher(arg)
    got = None if matcher is None else [matcher(n) for n in names]
    assert time.monotonic() - started < 1.0
    assert got == glibc(arg, names)
