"""TLS as tls_openssl does it: methods, contexts, and real handshakes.

* ``methods`` — ``tls_method`` parsing and the names MI shows.
* ``opensslsettings`` — what the local OpenSSL makes of ``ciphers_list`` and ``ec_curve``.
* ``context`` — an ``ssl.SSLContext`` built from one domain, in tls_openssl's order.
* ``sslverify`` — ``SSL_set_verify`` and SNI on a live connection (ctypes).
* ``handshake`` — one outgoing handshake as OpenSIPS's client side makes it.
* ``destinations`` — handshakes with every destination of a target, each with its client domain.
* ``livechain`` — the chain a live server presents (``inspect HOST:PORT``).
* ``clienthello`` — the server_name of a peeked ClientHello (for SNIs CPython cannot pass on).
* ``server`` — ``tlsmgm serve``: a local endpoint picking server domains as OpenSIPS does.
* ``probe`` — ``tlsmgm probe``: the config's predictions held against a live server.

Implements behaviour §2.9 and §6 (§6.1 to §6.15), and the connection side of §4.8, §4.9.
"""
