"""OpenSIPS's Management Interface: asking a server, and what it should answer.

* ``client`` — JSON-RPC 2.0 over ``mi_http`` or ``mi_fifo``.
* ``nodes`` — several nodes at once: which endpoints to ask, asked concurrently.
* ``tls_list`` — the ``tls_list`` reply OpenSIPS gives for a ``DomainSet``.
* ``drift`` — a live ``tls_list`` reply compared with the config (and DB).

Implements behaviour §7 (§7.1 to §7.6).
"""
