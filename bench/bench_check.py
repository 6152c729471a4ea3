"""Benchmark: `tlsmgm check` over 10,000 TLS domains with generated certificates.

Prints the time of a bare Python loop that loads and chain-verifies the same
certificates with `cryptography`, the time of a full `tlsmgm check` run (a separate
process: config reading, every rule, JSON output) and its peak memory (max RSS).
Targets: check <= 3x the bare loop, peak memory < 400 MB.

    python bench/bench_check.py [--domains N] [--keep DIR] [--jobs 1,2]

--jobs runs `check` once per value (TLSMGM_JOBS: 1 = one process, 2 = a forked child
checks half of the domains), to decide the default of `check --jobs`.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from calibrate import cpu_probe
from cryptography import x509

from tlsmgm_cli.core.x509 import certgen

DOMAINS_PER_ADDRESS = 50  # OpenSIPS allows 64 patterns per address key


def generate(directory: Path, count: int) -> tuple[Path, list[Path]]:
    """A CA, ``count`` leaf certificates (EC P-256) and an opensips.cfg with one server
    domain per certificate."""
    ca = certgen.make_ca("bench CA")
    ca_path = directory / "ca.crt"
    ca_path.write_bytes(ca.cert_pem())
    lines = ['loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"', 'loadmodule "proto_tls.so"']
    certs = []
    for i in range(count):
        name = f"d{i}.example.com"
        issued = certgen.make_cert(ca, name)
        cert_path, key_path = directory / f"d{i}.crt", directory / f"d{i}.key"
        cert_path.write_bytes(issued.cert_pem())
        key_path.write_bytes(issued.key_pem())
        key_path.chmod(0o600)
        certs.append(cert_path)
        block = i // DOMAINS_PER_ADDRESS
        address = f"10.{block // 256}.{block % 256}.1:5061"
        if i % DOMAINS_PER_ADDRESS == 0:
            lines.append(f"socket=tls:{address}")
        for param, value in (("server_domain", f"d{i}"), ("match_ip_address", f"[d{i}]{address}"),
                             ("match_sip_domain", f"[d{i}]{name}"), ("tls_method", f"[d{i}]TLSv1_2-TLSv1_3"),
                             ("certificate", f"[d{i}]{cert_path}"), ("private_key", f"[d{i}]{key_path}"),
                             ("ca_list", f"[d{i}]{ca_path}")):
            lines.append(f'modparam("tls_mgm", "{param}", "{value}")')
    cfg = directory / "opensips.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg, certs


def bare_loop(ca_path: Path, certs: list[Path]) -> float:
    """Load and chain-verify every certificate with cryptography alone."""
    start = time.perf_counter()
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    for path in certs:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert.verify_directly_issued_by(ca)
    return time.perf_counter() - start


def run_check(cfg: Path, jobs: int | None = None) -> tuple[float, float, float, int]:
    """(seconds, CPU seconds, peak RSS in MB, exit status) of `tlsmgm check` in a child
    process (CPU time exceeds wall time when signatures are checked on the second thread)."""
    env = dict(os.environ, **({"TLSMGM_JOBS": str(jobs)} if jobs is not None else {}))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "check", "-c", str(cfg), "--format", "json"],
                          capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu, after.ru_maxrss / 1024, proc.returncode


def main() -> None:
    print(cpu_probe())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=10_000)
    parser.add_argument("--keep", metavar="DIR", help="generate into DIR and keep it")
    parser.add_argument("--jobs", default="", metavar="N,M",
                        help="run check once per value of TLSMGM_JOBS (default: its default)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(args.keep or scratch)
        directory.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        cfg, certs = generate(directory, args.domains)
        print(f"generated {args.domains} domains in {time.perf_counter() - t0:.1f} s")
        bare = bare_loop(directory / "ca.crt", certs)
        print(f"bare loop (load + chain-verify with cryptography): {bare:.2f} s")
        for jobs in [int(j) for j in args.jobs.split(",") if j] or [None]:
            check, cpu, peak_mb, status = run_check(cfg, jobs)
            label = "" if jobs is None else f", jobs {jobs}"
            print(f"tlsmgm check (all rules, JSON output{label}, exit {status}):  {check:.2f} s  "
                  f"= {check / bare:.2f}x the bare loop (target <= 3x); CPU {cpu:.2f} s; peak {peak_mb:.0f} MB")
        print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
        print(f"tlsmgm check peak memory (max RSS): {peak_mb:.0f} MB (target < 400 MB)")


if __name__ == "__main__":
    main()
