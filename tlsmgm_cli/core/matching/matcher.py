"""Which TLS domain OpenSIPS 3.6.8 picks for a connection, and why (behaviour §4).

This is the one implementation of tls_mgm's domain selection; ``match``, ``serve`` and
``check`` all use it.

* :func:`build_matching_map` builds one side's map like ``update_matching_map`` +
  ``sort_map_dom_arrays``: per address key an array of (pattern, domain) pairs; the first
  domain (in list order) to insert a pattern text owns it; at most 64 patterns per key;
  then a stable sort by rank (0: no ``*``; 1: contains ``*``; 2: exactly ``*``). After an
  MI ``tls_reload`` the DB entries are removed and appended again (behaviour §4.11).
* :class:`DomainMatcher` answers lookups: the exact ``ip:port`` key if it exists, else
  the ``*`` key; the first pattern that fnmatches wins (server: the SNI or ``none``;
  client: the SIP-domain AVP or ``*``, unless the TLS-domain AVP forces a name).
* :meth:`DomainMatcher.explain` gives the ranked candidates and the domains that no input
  can select on that address.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tlsmgm_cli.core.domain import CLIENT, SERVER, DomainSet, TlsDomain
from tlsmgm_cli.core.errors import Diagnostic, Loc, UsageError
from tlsmgm_cli.core.matching.fnmatch_posix import compile_pattern, linear_regex, to_c_text
from tlsmgm_cli.core.net.addresses import socket_text, split_key

RANK_EXACT, RANK_WILDCARD, RANK_ANY = 0, 1, 2
RANK_NAMES = ("exact", "wildcard", "any")
MAX_FILTERS_PER_ADDRESS = 64  # DOM_FILT_ARR_MAX
ANY_ADDRESS = "*"
NO_SNI_VALUE = "none"
NO_SIP_DOMAIN_VALUE = "*"
CASEFOLD_SINCE = (3, 6, 8)
MAX_VALUE_BYTES = 255  # the lookup copies the value into char[256] without a check

SELECTED, REJECTED, DROPPED = "selected", "rejected", "dropped"
# the JSON contract of one result (tlsmgm match --format json), in output order: the
# query as asked, then the answer
QUERY_FIELDS = ("side", "socket", "sni", "sip_domain", "tls_domain")
ANSWER_FIELDS = ("domain", "outcome", "initial_domain", "rank", "pattern", "file", "line")
CONTRACT_FIELDS = QUERY_FIELDS + ANSWER_FIELDS


def pattern_rank(pattern: str) -> int:
    """compare_dom_filters: 2 for exactly ``*``, 1 for any other text containing ``*``
    (escaped or not), 0 for the rest (``none``, FQDNs, ``?``/``[...]`` patterns)."""
    if pattern == "*":
        return RANK_ANY
    return RANK_WILDCARD if "*" in pattern else RANK_EXACT


def check_value_length(value: str | None, what: str) -> None:
    """OpenSIPS copies the matched value into ``char[256]`` unchecked (behaviour §4.7): longer
    values are undefined behaviour (and an SNI is at most 255 bytes anyway)."""
    if value is not None and len(value) > MAX_VALUE_BYTES // 4 \
            and len(to_c_text(value)) > MAX_VALUE_BYTES:
        raise UsageError(f"{what} is longer than {MAX_VALUE_BYTES} bytes: OpenSIPS cannot match "
                         "it (undefined behaviour in tls_find_domain_by_filters)")


# ---------------------------------------------------------------------------------------
# The map


@dataclass(frozen=True, slots=True)
class MapEntry:
    """One (pattern, domain) pair of an address key's array."""

    pattern: str
    domain: TlsDomain
    rank: int


@dataclass(frozen=True, slots=True)
class ShadowedPair:
    """A pattern a domain lists for an address but does not own in the map: ``owner``
    inserted the identical text first (None: the 64-entry array was already full)."""

    domain: TlsDomain
    address: str
    pattern: str
    owner: TlsDomain | None


@dataclass(frozen=True, slots=True)
class Overflow:
    """The first pattern that did not fit into a key's 64-entry array (fatal)."""

    address: str
    domain: TlsDomain
    pattern: str


_ASCII_LOWER = str.maketrans({chr(c): chr(c + 32) for c in range(65, 91)})
_GLOB_SPECIALS = frozenset("*?[\\")


def c_tolower(text: str) -> str:
    """FNM_CASEFOLD's tolower() in the C locale: only A-Z change."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


class AddressArray:
    """The sorted array of one address key and its compiled lookup.

    ``first_match`` returns the index of the first entry, in array order, whose pattern
    fnmatches the value, like OpenSIPS's linear scan, but indexed: plain patterns (no
    glob character) are one dict lookup; ``*literal`` patterns (``*``, ``*.example.com``:
    the common case) are dict lookups of the value's suffixes of the lengths present; the
    other patterns are ordered alternatives
    ``(p0)|(p1)|...`` of one regex (each ``pi`` from ``linear_regex``: no catastrophic
    backtracking, so a lookup is polynomial in the value and pattern lengths) (``fullmatch().lastindex`` = the first that matches, as
    Python tries alternatives left to right); the smallest index wins. With FNM_CASEFOLD,
    patterns without brackets are matched against the folded value (so their regex needs
    no case classes); bracket patterns see the raw value (glibc tests classes unfolded).
    """

    __slots__ = ("key", "entries", "casefold", "_plain", "_suffix", "_suffix_lengths", "_folded", "_raw",
                 "_odd", "_ready")

    def __init__(self, key: str, entries: list[MapEntry], casefold: bool):
        self.key = key
        self.entries = entries
        self.casefold = casefold
        self._plain: dict[str, int] = {}
        self._suffix: dict[str, int] = {}  # "*literal" patterns by their (folded) literal
        self._suffix_lengths: list[int] = []
        self._folded: tuple[Any, list[int]] | None = None
        self._raw: tuple[Any, list[int]] | None = None
        self._odd: list[tuple[int, Any]] = []  # (index, automaton) of branching patterns
        self._ready = False

    def _prepare(self) -> None:
        import re

        folded: list[tuple[int, str]] = []
        raw: list[tuple[int, str]] = []
        for i, entry in enumerate(self.entries):
            text = to_c_text(entry.pattern)
            if _GLOB_SPECIALS.isdisjoint(text):
                self._plain.setdefault(c_tolower(text) if self.casefold else text, i)
            elif text[0] == "*" and _GLOB_SPECIALS.isdisjoint(text[1:]):
                self._suffix.setdefault(c_tolower(text[1:]) if self.casefold else text[1:], i)
            elif self.casefold and "[" not in text:
                regex = linear_regex(c_tolower(entry.pattern), False)
                assert regex is not None  # only a bracket expression can branch
                folded.append((i, regex))
            else:
                regex = linear_regex(entry.pattern, self.casefold)
                if regex is None:  # a branching bracket expression: an automaton of its own
                    self._odd.append((i, compile_pattern(entry.pattern, self.casefold)))
                else:
                    raw.append((i, regex))

        def combined(parts: list[tuple[int, str]]) -> tuple[Any, list[int]] | None:
            if not parts:
                return None
            regex = re.compile("|".join(f"({rx})" for _, rx in parts), re.DOTALL)
            return regex, [i for i, _ in parts]

        self._folded, self._raw = combined(folded), combined(raw)
        self._suffix_lengths = sorted({len(k) for k in self._suffix})
        self._ready = True

    def first_match(self, value: str) -> int | None:
        """Index of the first entry whose pattern fnmatches ``value`` (None: no match)."""
        if not self._ready:
            self._prepare()
        if not value.isascii() or "\0" in value:
            value = to_c_text(value)
        folded = c_tolower(value) if self.casefold else value
        best = self._plain.get(folded)
        if self._suffix:
            n = len(folded)
            for length in self._suffix_lengths:
                if length > n:
                    break
                index = self._suffix.get(folded[n - length:])
                if index is not None and (best is None or index < best):
                    best = index
        for group, text in ((self._folded, folded), (self._raw, value)):
            if group is not None:
                m = group[0].fullmatch(text)
                if m is not None:
                    index = group[1][m.lastindex - 1]
                    if best is None or index < best:
                        best = index
        for index, automaton in self._odd:
            if best is not None and index > best:
                break
            if automaton.fullmatch(value):
                best = index
                break
        return best

    def matches(self, index: int, value: str) -> bool:
        """Whether entry ``index`` alone matches ``value`` (for explanations)."""
        return compile_pattern(self.entries[index].pattern, self.casefold).fullmatch(
            to_c_text(value)) is not None


@dataclass(slots=True)
class MatchingMap:
    """``server_dom_matching`` or ``client_dom_matching``."""

    side: str
    arrays: dict[str, AddressArray]
    shadowed: list[ShadowedPair]
    overflows: list[Overflow]

    def array_for(self, key: str) -> AddressArray | None:
        """The exact key's array if that key exists, else the ``*`` array, else None."""
        arr = self.arrays.get(key)
        return arr if arr is not None else self.arrays.get(ANY_ADDRESS)


def _insert(arrays: dict[str, list[MapEntry]], owned: dict[str, dict[str, TlsDomain]],
            dom: TlsDomain, overflows: list[Overflow]) -> None:
    """update_matching_map for one domain."""
    for address in dom.eff_addresses:
        arr = arrays.setdefault(address, [])
        owners = owned.setdefault(address, {})
        for pattern in dom.eff_sip_domains:
            if pattern in owners:
                continue
            if len(arr) == MAX_FILTERS_PER_ADDRESS:
                if not any(o.address == address for o in overflows):
                    overflows.append(Overflow(address, dom, pattern))
                continue
            owners[pattern] = dom
            arr.append(MapEntry(pattern, dom, pattern_rank(pattern)))


def build_matching_map(domains: list[TlsDomain], side: str, *, casefold: bool = True,
                       after_reload: bool = False) -> MatchingMap:
    """The map OpenSIPS builds from ``domains`` (one side, list order, active only)."""
    arrays: dict[str, list[MapEntry]] = {}
    owned: dict[str, dict[str, TlsDomain]] = {}
    overflows: list[Overflow] = []
    for dom in domains:
        _insert(arrays, owned, dom, overflows)
    for arr in arrays.values():
        arr.sort(key=lambda e: e.rank)
    if after_reload:
        # tls_reload: drop the old DB entries, keep the script ones where they are,
        # append the new DB entries (same dedup rule), re-sort stably (behaviour §4.11)
        reload_overflows: list[Overflow] = []
        for address, arr in arrays.items():
            arr[:] = [e for e in arr if not e.domain.from_db]
            owned[address] = {e.pattern: e.domain for e in arr}
        for dom in domains:
            if dom.from_db:
                _insert(arrays, owned, dom, reload_overflows)
        for arr in arrays.values():
            arr.sort(key=lambda e: e.rank)
    shadowed = [
        ShadowedPair(dom, address, pattern, owned[address].get(pattern))
        for dom in domains for address in dict.fromkeys(dom.eff_addresses)
        for pattern in dict.fromkeys(dom.eff_sip_domains)
        if owned[address].get(pattern) is not dom
    ]
    return MatchingMap(side, {k: AddressArray(k, v, casefold) for k, v in arrays.items()},
                       shadowed, overflows)


def _may_overflow(domains: list[TlsDomain]) -> bool:
    """Whether some address key collects more than MAX_FILTERS_PER_ADDRESS distinct
    patterns (an upper bound of what the map would hold)."""
    patterns: dict[str, set[str]] = {}
    for dom in domains:
        sips = dom.eff_sip_domains
        for address in dom.eff_addresses:
            seen = patterns.setdefault(address, set())
            seen.update(sips)
            if len(seen) > MAX_FILTERS_PER_ADDRESS:
                return True
    return False


def matching_diagnostics(domset: DomainSet) -> list[Diagnostic]:
    """mod_init's fatal ``Too many domain filters per address`` (more than 64 distinct
    patterns on one address key), one diagnostic per overflowing key."""
    diags = []
    for side in (SERVER, CLIENT):
        if not _may_overflow(domset.active(side)):
            continue  # the common case: no need to build the map to know it fits
        mmap = build_matching_map(domset.active(side), side)
        for ov in mmap.overflows:
            count = len({p for d in domset.active(side) if ov.address in d.eff_addresses
                         for p in d.eff_sip_domains})
            diags.append(Diagnostic(
                "error", "too-many-filters", "Too many domain filters per address",
                ov.domain.where("match_sip_domain"), ov.domain.name, side,
                hint=f"{side} domains list {count} distinct match_sip_domain patterns for the "
                     f"address '{ov.address}'; OpenSIPS allows {MAX_FILTERS_PER_ADDRESS} per "
                     f"address (the first one over is '{ov.pattern}' of [{ov.domain.name}])"))
    return diags


# ---------------------------------------------------------------------------------------
# Results


@dataclass(slots=True)
class MatchResult:
    """The answer to one query. ``reason`` is a stable code for the rule that decided:
    ``pattern`` (first matching pattern), ``no-pattern`` (array exists, nothing matches),
    ``no-address`` (no array for the address), ``empty-sni`` (callback NOACK: initial
    domain kept), ``forced`` / ``forced-missing`` (client_tls_domain_avp)."""

    side: str
    socket: str | None
    sni: str | None = None
    sip_domain: str | None = None
    tls_domain: str | None = None
    domain: TlsDomain | None = None
    outcome: str = REJECTED
    initial: TlsDomain | None = None
    rank: int | None = None
    pattern: str | None = None
    reason: str = "no-pattern"
    key_used: str | None = None
    value: str | None = None  # the text fnmatched (SNI, "none", AVP value or "*")
    notes: list[str] = field(default_factory=list)

    @property
    def selected(self) -> bool:
        return self.outcome == SELECTED

    def query_values(self) -> tuple[Any, ...]:
        """The values of ``QUERY_FIELDS``, in that order."""
        return (self.side, self.socket, self.sni, self.sip_domain, self.tls_domain)

    def answer_values(self) -> tuple[Any, ...]:
        """The values of ``ANSWER_FIELDS``, in that order."""
        dom, initial = self.domain, self.initial
        loc = dom.loc if dom is not None else None
        return (dom.name if dom is not None else None, self.outcome,
                initial.name if initial is not None else None,
                RANK_NAMES[self.rank] if self.rank is not None else None, self.pattern,
                loc.file if loc else None, loc.line if loc else None)

    def contract_values(self) -> tuple[Any, ...]:
        """The values of ``CONTRACT_FIELDS``, in that order."""
        return self.query_values() + self.answer_values()

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of ``tlsmgm match --format json``."""
        return dict(zip(CONTRACT_FIELDS, self.contract_values(), strict=True))

    @property
    def rule(self) -> str:
        """One sentence: the rule that decided this outcome."""
        key = "the '*' address key" if self.key_used == ANY_ADDRESS else f"address key '{self.key_used}'"
        if self.reason == "no-address":
            if self.side == SERVER:
                return ("no TLS server domain found: no server domain lists this address and none "
                        "uses the '*' address; OpenSIPS accepts the TCP connection and never answers "
                        "the ClientHello")
            return ("no TLS client domain found: no client domain lists this address and none uses "
                    "the '*' address; OpenSIPS opens the TCP connection and closes it without a "
                    "ClientHello (477 Send failed)")
        if self.reason == "empty-sni":
            return ("an empty SNI makes the SNI callback return NOACK: the handshake continues with "
                    f"the initial domain (first entry of {key})")
        if self.reason == "forced":
            return f"client_tls_domain_avp names client domain [{self.tls_domain}]: no filter matching"
        if self.reason == "forced-missing":
            return (f"client_tls_domain_avp names [{self.tls_domain}], and no client domain has that "
                    "exact (case-sensitive) name: no domain, no fallback to the filters; the send "
                    "fails (477)")
        what = "SNI" if self.side == SERVER else "SIP domain"
        shown = f"'{self.value}'"
        if self.side == SERVER and self.sni is None:
            shown = "'none' (no SNI)"
        elif self.side == CLIENT and self.value == NO_SIP_DOMAIN_VALUE and self.sip_domain is None:
            shown = "'*' (no SIP-domain AVP)"
        if self.reason == "pattern":
            return (f"{what} {shown} matches {RANK_NAMES[self.rank or 0]} pattern '{self.pattern}', "
                    f"the first match in {key} (ranks: exact text, then patterns with '*', then '*'; "
                    "ties by insertion order)")
        if self.side == SERVER:
            return (f"no pattern of {key} matches {what} {shown}: the SNI callback aborts the "
                    "handshake with fatal alert 112 (unrecognized_name)")
        return (f"no pattern of {key} matches {what} {shown}: no TLS client domain found, the "
                "send fails (477)")


@dataclass(slots=True)
class Candidate:
    """One entry of the array used, in rank order."""

    domain: TlsDomain
    pattern: str
    rank: int
    matched: bool
    chosen: bool

    def to_dict(self) -> dict[str, Any]:
        loc = self.domain.where("match_sip_domain")
        return {"domain": self.domain.name, "source": self.domain.source, "rank": RANK_NAMES[self.rank],
                "pattern": self.pattern, "matched": self.matched, "chosen": self.chosen,
                "file": loc.file if loc else None, "line": loc.line if loc else None}


@dataclass(slots=True)
class Unreachable:
    """A (domain, pattern) no input can select on the address: ``reason`` is ``owned``
    (an earlier domain inserted the same text), ``hidden`` (a ``*``-address domain while
    the exact key exists), ``covered`` (an earlier pattern matches everything this one
    does) or ``full`` (did not fit into the 64 entries)."""

    domain: TlsDomain
    pattern: str
    reason: str
    by: TlsDomain | None
    loc: Loc | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"domain": self.domain.name, "source": self.domain.source, "pattern": self.pattern,
                "reason": self.reason, "by": self.by.name if self.by else None, "detail": self.detail,
                "file": self.loc.file if self.loc else None, "line": self.loc.line if self.loc else None}


@dataclass(slots=True)
class Explanation:
    key_used: str | None
    exact_key_exists: bool
    candidates: list[Candidate]
    unreachable: list[Unreachable]

    def to_dict(self) -> dict[str, Any]:
        return {"key_used": self.key_used, "exact_key_exists": self.exact_key_exists,
                "candidates": [c.to_dict() for c in self.candidates],
                "unreachable": [u.to_dict() for u in self.unreachable]}


# ---------------------------------------------------------------------------------------
# The matcher


def _covered_entries(entries: list[MapEntry], casefold: bool) -> list[tuple[Any, Any]]:
    """(entry, the first earlier entry of another domain that covers it) for every covered
    entry, in order: the ``_covers`` cases found by index instead of comparing every pair
    (an all-``*`` pattern covers everything; with casefold, a plain pattern covers its
    case variants)."""
    stars: list[tuple[int, Any]] = []  # all-'*' entries so far
    plain: dict[str, list[tuple[int, Any]]] = {}  # lower-cased plain pattern -> entries so far
    out = []
    for i, entry in enumerate(entries):
        best: tuple[int, Any] | None = None
        for j, earlier in stars:
            if earlier.domain is not entry.domain:
                best = (j, earlier)
                break
        is_plain = not any(ch in entry.pattern for ch in "*?[\\")
        folded = c_tolower(to_c_text(entry.pattern))  # OpenSIPS folds A-Z only (C locale)
        if casefold and is_plain:
            for j, earlier in plain.get(folded, ()):
                if earlier.domain is not entry.domain:
                    if best is None or j < best[0]:
                        best = (j, earlier)
                    break
        if best is not None:
            out.append((entry, best[1]))
        if entry.pattern and set(entry.pattern) == {"*"}:
            stars.append((i, entry))
        elif is_plain:
            plain.setdefault(folded, []).append((i, entry))
    return out


class DomainMatcher:
    """Both matching maps of a DomainSet, and OpenSIPS's lookups over them."""

    def __init__(self, domset: DomainSet, *, after_reload: bool | None = None,
                 opensips_version: tuple[int, int, int] | None = None):
        self.domset = domset
        self.version = opensips_version or domset.opensips_version
        self.after_reload = domset.after_reload if after_reload is None else after_reload
        self.casefold = self.version >= CASEFOLD_SINCE
        self.maps = {
            side: build_matching_map(domset.active(side), side, casefold=self.casefold,
                                     after_reload=self.after_reload)
            for side in (SERVER, CLIENT)
        }
        self._client_by_name = {}
        for dom in reversed(domset.active(CLIENT)):
            self._client_by_name[dom.name] = dom  # the first in list order wins

    # -- lookups ---------------------------------------------------------------------
    def server_choice(self, ip: str, port: int, sni: str | None) -> tuple[str | None, int | None]:
        """The whole server-side decision in its cheapest form: (the address key used,
        None when no array covers ``ip:port``; the index of the chosen entry in that
        array, None when no pattern matches). An empty SNI keeps entry 0 (the initial
        domain) without a pattern test; no SNI is matched as ``none``."""
        if sni is not None and len(sni) > MAX_VALUE_BYTES // 4:
            check_value_length(sni, "the SNI")
        arr = self.maps[SERVER].array_for(f"{ip}:{port}")
        if arr is None or not arr.entries:
            return None, None
        if sni == "":
            return arr.key, 0
        return arr.key, arr.first_match(NO_SNI_VALUE if sni is None else sni)

    def match_server(self, ip: str, port: int, sni: str | None) -> MatchResult:
        """An incoming connection on listener ``ip:port`` (canonical ip) with ``sni``
        (None: the client sent no SNI)."""
        key_used, index = self.server_choice(ip, port, sni)
        result = MatchResult(SERVER, socket_text(ip, port), sni=sni)
        if key_used is None:
            result.outcome, result.reason = DROPPED, "no-address"
            return result
        arr = self.maps[SERVER].arrays[key_used]
        result.key_used, result.initial = key_used, arr.entries[0].domain
        if sni == "":
            result.outcome, result.reason, result.domain = SELECTED, "empty-sni", result.initial
            return result
        result.value = NO_SNI_VALUE if sni is None else sni
        self._decide(result, arr, index)
        if result.selected:
            self._server_notes(result)
        return result

    def match_client(self, ip: str | None, port: int | None, sip_domain: str | None = None,
                     tls_domain: str | None = None) -> MatchResult:
        """A new outgoing connection to ``ip:port`` with the two AVPs as given (None =
        the AVP is not set). A forced ``tls_domain`` needs no destination."""
        check_value_length(sip_domain, "the SIP domain")
        sock = socket_text(ip, port) if ip is not None and port is not None else None
        result = MatchResult(CLIENT, sock, sip_domain=sip_domain, tls_domain=tls_domain)
        glob = self.domset.globals
        if tls_domain is not None:
            if glob.client_tls_domain_avp is None:
                result.notes.append(
                    "the config does not set client_tls_domain_avp: OpenSIPS would never read a "
                    "TLS-domain AVP (evaluated here as if it were set)")
            dom = self._client_by_name.get(tls_domain)
            if dom is None:
                result.outcome, result.reason = REJECTED, "forced-missing"
                result.notes.extend(self._missing_name_notes(tls_domain))
            else:
                result.outcome, result.reason, result.domain = SELECTED, "forced", dom
            return result
        if sip_domain is not None and glob.client_sip_domain_avp is None:
            result.notes.append(
                "the config does not set client_sip_domain_avp: OpenSIPS would match the value "
                "'*' (evaluated here as if it were set)")
        if sip_domain == "":
            result.notes.append("an empty SIP-domain value is matched as the empty string: only "
                                "patterns such as '*' match it, like an unset AVP")
        if ip is None or port is None:
            raise ValueError("a client match needs the destination ip and port")
        arr = self.maps[CLIENT].array_for(f"{ip}:{port}")
        if arr is None or not arr.entries:
            result.outcome, result.reason = REJECTED, "no-address"
            return result
        result.key_used = arr.key
        result.value = NO_SIP_DOMAIN_VALUE if sip_domain is None else sip_domain
        self._decide(result, arr, arr.first_match(result.value))
        return result

    @staticmethod
    def _decide(result: MatchResult, arr: AddressArray, index: int | None) -> None:
        """The outcome of tls_find_domain_by_filters: entry ``index`` of ``arr``, or none."""
        if index is None:
            result.outcome, result.reason = REJECTED, "no-pattern"
            return
        entry = arr.entries[index]
        result.outcome, result.reason = SELECTED, "pattern"
        result.domain, result.rank, result.pattern = entry.domain, entry.rank, entry.pattern

    def _server_notes(self, result: MatchResult) -> None:
        initial, chosen = result.initial, result.domain
        if initial is None or chosen is None or initial is chosen:
            return
        if initial.eff_method != chosen.eff_method:
            result.notes.append(
                f"the connection starts on the initial domain [{initial.name}] (first entry of the "
                f"address key): its tls_method '{initial.eff_method}' governs version negotiation, "
                f"not [{chosen.name}]'s '{chosen.eff_method}'")
        if self.version < CASEFOLD_SINCE and \
                (initial.eff_verify_cert, initial.eff_require_cert) != \
                (chosen.eff_verify_cert, chosen.eff_require_cert):
            result.notes.append(
                f"before 3.6.8 the verify_cert/require_cert of the initial domain [{initial.name}] "
                f"stay in force, not those of [{chosen.name}]")

    def _missing_name_notes(self, name: str) -> list[str]:
        notes = []
        if name == "":
            notes.append("the TLS-domain AVP holds the empty string: no client domain has that name")
        if self.domset.find(name, SERVER) is not None:
            notes.append(f"[{name}] is a server domain: only client domain names are searched")
        folded = [d.name for d in self.domset.active(CLIENT) if d.name.lower() == name.lower()]
        if folded:
            notes.append(f"names are case-sensitive: the client domain is spelled [{folded[0]}]")
        skipped = [d for d in self.domset.client if d.name == name and d.db_skip is not None]
        if skipped:
            notes.append(f"DB client domain [{name}] exists but OpenSIPS skips it: {skipped[0].db_skip}")
        return notes

    # -- explanations ------------------------------------------------------------------
    def explain(self, result: MatchResult) -> Explanation:
        """The candidates of the address key used, in rank order, and what on that
        address no input can ever select."""
        if result.key_used is None and result.reason in ("forced", "forced-missing"):
            return Explanation(None, False, [], [])
        mmap = self.maps[result.side]
        exact_key = _key_of(result.socket) if result.socket else None
        arr = mmap.arrays.get(result.key_used) if result.key_used else None
        candidates: list[Candidate] = []
        if arr is not None:
            chosen_seen = False
            for i, entry in enumerate(arr.entries):
                matched = result.value is not None and arr.matches(i, result.value)
                chosen = matched and not chosen_seen and result.reason == "pattern"
                chosen_seen = chosen_seen or chosen
                candidates.append(Candidate(entry.domain, entry.pattern, entry.rank, matched, chosen))
        return Explanation(result.key_used, exact_key in mmap.arrays if exact_key else False,
                           candidates, self.unreachable(result.side, exact_key or ANY_ADDRESS))

    def unreachable(self, side: str, key: str) -> list[Unreachable]:
        """Patterns listed for the address ``key`` that no input can select there."""
        mmap = self.maps[side]
        arr = mmap.array_for(key)
        used = arr.key if arr is not None else None
        out: list[Unreachable] = []
        for pair in mmap.shadowed:
            if pair.address != used:
                continue
            loc = pair.domain.where("match_sip_domain")
            if pair.owner is None:
                out.append(Unreachable(pair.domain, pair.pattern, "full", None, loc,
                                       f"'{pair.pattern}' did not fit into the {MAX_FILTERS_PER_ADDRESS} "
                                       "entries of this address (OpenSIPS would not start)"))
            else:
                out.append(Unreachable(pair.domain, pair.pattern, "owned", pair.owner, loc,
                                       f"[{pair.owner.name}] inserted the identical pattern "
                                       f"'{pair.pattern}' first and owns it"))
        if arr is not None:
            for entry, earlier in _covered_entries(arr.entries, arr.casefold):
                out.append(Unreachable(entry.domain, entry.pattern, "covered", earlier.domain,
                                       entry.domain.where("match_sip_domain"),
                                       f"'{earlier.pattern}' of [{earlier.domain.name}] comes "
                                       "first and matches every value this pattern matches"))
        if used is not None and used != ANY_ADDRESS and ANY_ADDRESS in mmap.arrays:
            for entry in mmap.arrays[ANY_ADDRESS].entries:
                out.append(Unreachable(entry.domain, entry.pattern, "hidden", None,
                                       entry.domain.where("match_ip_address"),
                                       f"[{entry.domain.name}] uses the '*' address, but the exact key "
                                       f"'{used}' exists: '*'-address domains are ignored here"))
        return out


def _key_of(socket: str) -> str:
    """``[v6]:port`` / ``v4:port`` (socket_text) back to the canonical map key."""
    split = split_key(socket)
    return f"{split[0]}:{split[1]}" if split else socket


# ---------------------------------------------------------------------------------------
# Listeners


DEFAULT_TLS_PORT = 5061
MAX_RANGE_PORTS = 64


@dataclass(slots=True)
class Listener:
    """A ``socket=tls:``/``listen=tls:`` definition and the key OpenSIPS uses for it:
    ``ip``/``port`` are set when tlsmgm can compute the key, else ``skip`` says why."""

    text: str
    loc: Loc
    ip: str | None = None
    port: int | None = None
    note: str | None = None
    skip: str | None = None


def _tls_port(parsed: Any) -> int:
    """proto_tls ``tls_port`` (the last setting), else 5061."""
    from tlsmgm_cli.core.cfg.modparams import module_regex_matches

    port = DEFAULT_TLS_PORT
    for mp in parsed.modparams:
        if mp.param == "tls_port" and mp.kind == "int" and module_regex_matches(mp.module, "proto_tls"):
            port = int(mp.value)
    return port


def tls_listeners(parsed: Any) -> list[Listener]:
    """Every TLS listener of a ParsedConfig, expanded to the keys OpenSIPS uses
    (behaviour §4.8: the listening socket's own address, not the address a client dialled)."""
    from tlsmgm_cli.core.net.addresses import canonical_ip

    default_port = _tls_port(parsed)
    out: list[Listener] = []
    for sock in parsed.sockets:
        if sock.proto != "tls":
            continue
        text = sock.text or f"{sock.keyword}=tls:{sock.host}"
        port = sock.port or default_port
        if sock.host == "*":
            out.append(Listener(text, sock.loc, skip=(
                "'*' makes OpenSIPS open one socket per local interface address, each keyed on "
                "its own IP: give --socket IP:PORT for the address to check")))
            continue
        ip = canonical_ip(sock.host)
        if ip is None:
            out.append(Listener(text, sock.loc, skip=(
                f"'{sock.host}' is a host name, interface or placeholder: OpenSIPS keys on the "
                "address it resolves to at startup; give --socket IP:PORT")))
            continue
        note = None
        if ip in ("0.0.0.0", "0:0:0:0:0:0:0:0"):
            note = (f"a wildcard listener: OpenSIPS keys on the socket's own address '{ip}', not on "
                    "the address the client connected to, so only domains listing "
                    f"'{ip}:{port}' or '*' apply")
        last = sock.port_end if sock.port and sock.port_end and sock.port_end >= sock.port else port
        if last - port >= MAX_RANGE_PORTS:
            last = port + MAX_RANGE_PORTS - 1
            note = (note + "; " if note else "") + \
                f"port range cut to its first {MAX_RANGE_PORTS} ports"
        for p in range(port, last + 1):
            out.append(Listener(text, sock.loc, ip, p, note))
    return out


def match_every_listener(matcher: DomainMatcher, parsed: Any, sni: str | None) -> tuple[list[MatchResult], list[Listener]]:
    """The server-side answer for ``sni`` on every TLS listener of ``parsed`` that has an
    IP address, and the listeners skipped (each with its ``skip`` reason). UsageError
    when no listener is left: the caller must name a socket."""
    from tlsmgm_cli.core.errors import UsageError

    listeners = tls_listeners(parsed)
    results: list[MatchResult] = []
    skipped: list[Listener] = []
    for lst in listeners:
        if lst.skip or lst.ip is None or lst.port is None:  # tls_listeners sets ip/port or skip
            skipped.append(lst)
            continue
        result = matcher.match_server(lst.ip, lst.port, sni)
        if lst.note:
            result.notes.append(lst.note)
        results.append(result)
    if not results:
        why = "no socket=tls:/listen=tls: listener" if not listeners else "no TLS listener with an IP address"
        raise UsageError(f"{parsed.path} has {why}: give --socket IP:PORT")
    return results, skipped
