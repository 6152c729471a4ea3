"""Import 10,000 script domains into SQLite, validation included; prints the time.

Usage: python bench/bench_db_import.py [N] [--shared]
  N         number of domains (default 10000), each with its own certificate and key
  --shared  all domains use one certificate/key pair (the common real-world case)

Timed: reading the config, building the domains, validating every domain (files read,
PEM parsed, key matched to the certificate, method/ciphers checked), reading the files
into rows, and writing them in one transaction. Not timed: generating the certificates.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tlsmgm_cli.core.db.backend import connect
from tlsmgm_cli.core.db.importer import apply_import, plan_import, rows_for, select_domains
from tlsmgm_cli.core.db.rows import fetch_rows
from tlsmgm_cli.core.db.validate import row_findings, validate_for_import
from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.x509 import certgen


def write_setup(directory: Path, n: int, shared: bool) -> Path:
    ca = certgen.make_ca("bench CA")
    lines = ['loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    pair = None
    for i in range(n):
        if pair is None or not shared:
            issued = certgen.make_cert(ca, f"d{i}.example.com")
            pair = (directory / f"d{i}.crt", directory / f"d{i}.key")
            pair[0].write_bytes(issued.cert_pem())
            pair[1].write_bytes(issued.key_pem())
            pair[1].chmod(0o600)
        cert, key = pair
        name = f"d{i}"
        lines += [f'modparam("tls_mgm", "server_domain", "{name}")',
                  f'modparam("tls_mgm", "match_ip_address", "[{name}]10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:5061")',
                  f'modparam("tls_mgm", "match_sip_domain", "[{name}]{name}.example.com")',
                  f'modparam("tls_mgm", "tls_method", "[{name}]TLSv1_2-")',
                  f'modparam("tls_mgm", "certificate", "[{name}]{cert}")',
                  f'modparam("tls_mgm", "private_key", "[{name}]{key}")']
    cfg = directory / "opensips.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = int(args[0]) if args else 10_000
    shared = "--shared" in sys.argv
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        print(f"generating {n} domains ({'one shared' if shared else 'distinct'} cert/key)...",
              flush=True)
        cfg = write_setup(directory, n, shared)
        url = f"sqlite://{directory / 'opensips.db'}"
        with connect(url, create=True) as db:
            db.init_schema()
        start = time.perf_counter()
        domset = load_domains(str(cfg), use_db=False)
        loaded = time.perf_counter()
        domains = select_domains(domset, None)
        findings = validate_for_import(domset, [d.key for d in domains])
        rows = rows_for(domains)
        for row in rows:
            findings += row_findings(row, "sqlite")
        validated = time.perf_counter()
        errors = [f for f in findings if f.severity == "error"]
        assert not errors, errors[:3]
        with connect(url) as db:
            apply_import(db, plan_import(rows, fetch_rows(db)))
            written = time.perf_counter()
            assert len(fetch_rows(db)) == n
    print(f"config read:        {loaded - start:6.2f} s")
    print(f"validate + rows:    {validated - loaded:6.2f} s")
    print(f"write (1 txn):      {written - validated:6.2f} s")
    total = written - start
    print(f"imported {n} domains into SQLite in {total:.2f} s "
          f"({n / total:,.0f} domains/s; budget 10 s: {'OK' if total <= 10 else 'OVER'})")


if __name__ == "__main__":
    main()
