"""Which TLS domain OpenSIPS picks for a connection: the one matcher of tlsmgm.

* ``matcher`` — the matching maps, ranks, lookups and explanations (``match``, ``serve``,
  ``check`` and ``probe`` all use it).
* ``fnmatch_posix`` — glibc ``fnmatch(3)`` with ``FNM_CASEFOLD``, as OpenSIPS calls it.
* ``batch`` — the ``match --batch`` engine: JSON query lines in, answers out.

Implements behaviour §4 (§4.1 to §4.11; the worked examples of §4.12 are its tests).
"""
