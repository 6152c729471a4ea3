"""Reading an opensips.cfg the way OpenSIPS 3.6.8 does, and applying its tls_mgm modparams.

* ``lex`` — lexical rules (strings, escapes, comments, numbers) as compiled regexes.
* ``parse`` — the reader: includes, templates, sockets, top-level statements, diagnostics.
* ``model`` — what the reader returns (``ParsedConfig`` and its statements).
* ``ere`` — POSIX extended regexes as glibc compiles them (modparam's module argument).
* ``modparams`` — tls_mgm's modparams applied in order: the script ``DomainSet`` and errors.

Implements behaviour §1 (config reading: §1.1 to §1.11) and §2.1 to §2.6 (declaring
domains, the ``[dom]`` prefix, module and column-name parameters), with the config-time
startup errors of behaviour §9.1.
"""
