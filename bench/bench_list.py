"""Benchmark: `tlsmgm list --format mi` on a generated 10,000-domain config.

Generates a config with N server/client domains (each with address and SIP-domain
filters, a method range and file paths - no certificate reading), then times the whole
`tlsmgm list --format mi` process (Python start-up included) over several runs.
Target (issue 2): under 1.5 s for 10,000 domains.

    python bench/bench_list.py [--domains 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from calibrate import cpu_probe


def generate(path: Path, n: int) -> None:
    lines = ['loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"', 'loadmodule "proto_tls.so"']
    for i in range(n):
        side = "client_domain" if i % 5 == 0 else "server_domain"
        d = f"dom{i}"
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        lines += [
            f'modparam("tls_mgm", "{side}", "{d}")',
            f'modparam("tls_mgm", "match_ip_address", "[{d}]{ip}:5061, [2001:db8::{i:x}]:5061")',
            f'modparam("tls_mgm", "match_sip_domain", "[{d}]sip{i}.example.com, *.d{i}.example.com")',
            f'modparam("tls_mgm", "tls_method", "[{d}]TLSv1_2-TLSv1_3")',
            f'modparam("tls_mgm", "certificate", "[{d}]/etc/opensips/tls/{d}/cert.pem")',
            f'modparam("tls_mgm", "private_key", "[{d}]/etc/opensips/tls/{d}/key.pem")',
        ]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    print(cpu_probe())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--domains", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "opensips.cfg"
        generate(cfg, args.domains)
        cmd = [sys.executable, "-m", "tlsmgm_cli", "list", "-c", str(cfg), "--format", "mi"]
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            out = subprocess.run(cmd, capture_output=True)
            times.append(time.perf_counter() - t0)
            if out.returncode != 0:
                sys.exit(f"list failed: {out.stderr.decode()[-500:]}")
        lines = sum(1 for _ in cfg.open())
    print(f"config: {args.domains} domains, {lines} lines")
    print(f"tlsmgm list --format mi: median {statistics.median(times):.3f} s, "
          f"min {min(times):.3f} s, max {max(times):.3f} s over {args.runs} runs (target < 1.5 s)")


if __name__ == "__main__":
    main()
