"""The indexed search for covered (unreachable) patterns equals the naive pairwise scan:
an entry is covered by the first earlier entry of another domain that is all '*', or (with
case-insensitive matching) the same plain pattern in another case."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from tlsmgm_cli.core.matching.matcher import _covered_entries

DOMAINS = [SimpleNamespace(name=f"d{i}") for i in range(4)]
PATTERNS = ["*", "**", "a.com", "A.COM", "a.Com", "*.a.com", "?.com", "b", "B", "[ab]", "a\\b", "",
            "é.x", "É.x", "k", "\u212a"]  # non-ASCII: OpenSIPS folds A-Z only (C locale)


def naive(entries, casefold):
    def covers(earlier, later):
        if earlier and set(earlier) == {"*"}:
            return True
        def fold(text):
            return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)

        return casefold and fold(earlier) == fold(later) and not any(c in earlier for c in "*?[\\")

    out = []
    for i, entry in enumerate(entries):
        for earlier in entries[:i]:
            if earlier.domain is not entry.domain and covers(earlier.pattern, entry.pattern):
                out.append((entry, earlier))
                break
    return out


@given(st.lists(st.tuples(st.sampled_from(DOMAINS), st.sampled_from(PATTERNS)), max_size=10),
       st.booleans())
def test_indexed_equals_naive(pairs, casefold):
    entries = [SimpleNamespace(domain=d, pattern=p) for d, p in pairs]
    expected = [(id(a), id(b)) for a, b in naive(entries, casefold)]
    assert [(id(a), id(b)) for a, b in _covered_entries(entries, casefold)] == expected
