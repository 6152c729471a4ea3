"""Small primitives every package uses; no OpenSIPS behaviour lives here.

* ``safeio`` — reading input files safely: regular files only, size-capped, errors named.
* ``atomicio`` — atomic file writes: a reader sees the old file or the complete new one.
* ``yamlsafe`` — YAML settings read safely (values Python cannot hold are named, not raised).
* ``parallel`` — the one fork helper (``--jobs`` / ``TLSMGM_JOBS``, ``1`` = no fork) and
  the one garbage-collector pause.
"""
