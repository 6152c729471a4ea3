"""Benchmark ``tlsmgm handshake`` against a local ``tlsmgm serve`` endpoint.

Prints:
* the median wall time of a whole ``tlsmgm handshake`` process (Python start and imports
  included; target <= 0.25 s), next to ``python -c pass`` and ``openssl s_client``;
* handshakes/s of ``tlsmgm handshake --repeat 100`` (target >= 300/s) and of a bare
  Python ``ssl`` loop (connect + handshake + close, same server, same CA) run in its own
  process, and their ratio (target: within 3x).

Usage: python bench/bench_handshake.py [--runs 15] [--repeat 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from calibrate import cpu_probe  # noqa: E402  (bench/ is on sys.path when run as a script)

from tlsmgm_cli.core.loader import load_domains
from tlsmgm_cli.core.tls.server import TlsServer, plan_listeners
from tlsmgm_cli.core.x509 import certgen

BARE_LOOP = """
import socket, ssl, sys, time
port, ca, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.load_verify_locations(ca)
start = time.perf_counter()
for _ in range(n):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            tls.getpeercert(binary_form=True)
print(n / (time.perf_counter() - start))
"""


def _setup(directory: Path) -> tuple[Path, Path]:
    """A CA, a server certificate and a one-domain config; returns (config, CA file)."""
    ca = certgen.make_ca("bench CA")
    server = certgen.make_cert(ca, "bench.example.com")
    cert, key = server.write(directory, "server", force=True)
    ca_path, _ = ca.write(directory, "ca", force=True)
    cfg = directory / "opensips.cfg"
    cfg.write_text('loadmodule "tls_openssl.so"\nloadmodule "tls_mgm.so"\n'
                   'modparam("tls_mgm", "server_domain", "bench")\n'
                   f'modparam("tls_mgm", "certificate", "[bench]{cert}")\n'
                   f'modparam("tls_mgm", "private_key", "[bench]{key}")\n'
                   'modparam("tls_mgm", "verify_cert", "[bench]0")\n')
    return cfg, ca_path


def _wall(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, done


def main() -> None:
    print(cpu_probe())
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tlsmgm-bench-") as tmp:
        cfg, ca = _setup(Path(tmp))
        domset = load_domains(str(cfg))
        specs, _ = plan_listeners(domset, ["127.0.0.1:0"])
        server = TlsServer(domset, specs, lambda _record: None)
        port = server.bound[0][1][1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        target = f"127.0.0.1:{port}"
        tlsmgm = [sys.executable, "-m", "tlsmgm_cli", "handshake", target, "--ca", str(ca)]

        _wall(tlsmgm)  # warm the page cache and bytecode
        process = []
        for _ in range(args.runs):
            seconds, done = _wall(tlsmgm)
            if done.returncode != 0:
                raise SystemExit(f"handshake failed: {done.stdout}{done.stderr}")
            process.append(seconds)
        bare_python = statistics.median(_wall([sys.executable, "-c", "pass"])[0] for _ in range(args.runs))
        print(f"whole `tlsmgm handshake` process: median {statistics.median(process):.3f} s "
              f"(min {min(process):.3f} s; target <= 0.25 s)  [python -c pass: {bare_python:.3f} s]")
        if shutil.which("openssl"):
            s_client = statistics.median(
                _wall(["openssl", "s_client", "-connect", target, "-CAfile", str(ca)])[0]
                for _ in range(args.runs))
            print(f"openssl s_client process: median {s_client:.3f} s")

        seconds, done = _wall([*tlsmgm, "--repeat", str(args.repeat), "--format", "json"])
        results = json.loads(done.stdout)
        if not all(r["connected"] for r in results):
            raise SystemExit("a repeated handshake failed")
        in_process = args.repeat / sum(r["seconds"] for r in results)
        _, bare = _wall([sys.executable, "-c", BARE_LOOP, str(port), str(ca), str(args.repeat)])
        bare_rate = float(bare.stdout)
        print(f"tlsmgm handshake --repeat {args.repeat}: {in_process:.0f} handshakes/s "
              f"(whole process incl. start and output: {seconds:.2f} s; target >= 300/s)")
        print(f"bare Python ssl loop: {bare_rate:.0f} handshakes/s; tlsmgm is "
              f"{bare_rate / in_process:.2f}x slower (target <= 3x)")
        server.stop()
        thread.join(5)


if __name__ == "__main__":
    main()
