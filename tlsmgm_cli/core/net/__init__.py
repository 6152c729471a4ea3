"""Addresses and URLs as OpenSIPS writes and parses them.

* ``addresses`` — ``ip_addr2a``, ``match_ip_address`` items, the CSV split, ``IP:PORT``.
* ``urls`` — the one URL masker (MI and DB URLs shown without their secrets).
* ``sipresolve`` — SIP destinations resolved as OpenSIPS resolves them (RFC 3263).

Implements behaviour §3: §3.1 lists, §3.2 ``match_ip_address``, §3.3 IP literals,
behaviour §3.4 ``ip_addr2a`` and §3.5 DB URLs.
"""
