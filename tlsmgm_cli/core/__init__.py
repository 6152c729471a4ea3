"""The tlsmgm core: config reading, domain model, matching, certificates, validation, TLS, DB.

Packages, by subject (each ``__init__`` lists its modules and the sections of the behaviour
reference, docs/opensips-behaviour.md, that it implements):

* ``cfg/``      reading opensips.cfg and applying the tls_mgm modparams (behaviour §1, §2)
* ``net/``      IP addresses, match_ip_address, URLs, SIP destinations (behaviour §3)
* ``matching/`` the one domain matcher and the ``match --batch`` engine (behaviour §4)
* ``x509/``     DER/PEM, certificates, ``$tls_*`` variables, trust stores, verify (behaviour §5)
* ``tls/``      tls_method, SSL contexts, handshakes, ``serve`` and ``probe`` (behaviour §6)
* ``mi/``       the MI client, the ``tls_list`` reply, drift against a live server (behaviour §7)
* ``db/``       the ``tls_mgm`` table: schema, rows, loading, import/export (behaviour §8)
* ``checks/``   ``tlsmgm check``: every rule, and what stops OpenSIPS at startup (behaviour §9)
* ``util/``     atomic writes and size-capped safe reads

Modules at the top: ``loader`` (the one facade commands call: config and DB to a
``DomainSet``), ``domain`` (the domain model and its defaults, behaviour §2.7, §2.8),
``errors``, ``limits`` (every size limit and timeout), ``listing`` (``tlsmgm list`` data)
and ``demo``.

Nothing under this package imports click or rich, prints, or exits: functions take plain
arguments and return plain data (dataclasses, dicts, lists) or raise TlsmgmError.
"""
