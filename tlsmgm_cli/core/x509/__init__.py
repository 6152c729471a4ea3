"""Certificates: reading them, describing them, and what OpenSIPS and OpenSSL make of them.

* ``der`` — the one DER reader (bounds-checked tag-length-value elements).
* ``pem`` — the one PEM splitter, finding blocks as OpenSSL's ``PEM_read_bio`` does.
* ``load`` — certificates from files or bytes: PEM, DER, PKCS#7.
* ``keys`` — the one key describer: algorithm OID, type and size.
* ``facts`` — the one certificate summary: fingerprint, key, EKU, days left.
* ``text`` — a certificate as ``openssl x509 -text`` shows it (``inspect --text``).
* ``hash`` — OpenSSL's subject name hash, for hashed directories.
* ``tlsvars`` — the ``$tls_*`` pseudo-variables, byte for byte.
* ``verify`` — the one verify result OpenSSL 3.0 would store for a peer chain.
* ``truststore`` — the one builder of a domain's trust store (``ca_list``, ``ca_dir``,
  ``crl_dir``) for ``inspect``, ``check``, ``handshake`` and ``serve``.
* ``certgen`` — test PKI generation: CAs, leaves, CRLs, hashed directories.

Implements behaviour §5 (§5.1 to §5.11), and the trust settings of §6.6, §6.7 and §8.7.
"""
