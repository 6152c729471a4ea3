"""Benchmark ``tlsmgm probe`` of a 1,000-domain config against ``tlsmgm serve``.

The config has 1,000 server domains (one certificate each, one exact SNI pattern each)
spread over 20 listeners on 127.0.0.1 (50 per address: OpenSIPS allows 64 patterns per
address key). ``tlsmgm serve`` serves it in its own process. Then, with the same
concurrency (``--jobs``):

* ``tlsmgm probe`` as a whole process (Python start, config load, planning, every
  handshake, certificate comparison and chain check, JSON output);
* a bare Python ``ssl`` loop in its own process: the same number of handshakes with the
  same SNIs on a ThreadPoolExecutor, keeping each leaf certificate.

Prints both times and their ratio (target: probe within 2x of the bare loop), next to the
machine reference probe (bench/calibrate.py).

Usage: python bench/bench_probe.py [--domains 1000] [--jobs 8] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from calibrate import cpu_probe  # noqa: E402  (bench/ is on sys.path when run as a script)

from tlsmgm_cli.core.x509 import certgen

PER_LISTENER = 50

BARE_LOOP = """
import json, socket, ssl, sys, time
from concurrent.futures import ThreadPoolExecutor
cases, jobs = json.loads(sys.argv[1]), int(sys.argv[2])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
def one(case):
    port, sni = case
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname=sni) as tls:
                return tls.getpeercert(binary_form=True) is not None
    except ssl.SSLError:
        return False
start = time.perf_counter()
with ThreadPoolExecutor(jobs) as pool:
    done = list(pool.map(one, cases))
print(json.dumps({"seconds": time.perf_counter() - start, "handshakes": len(done)}))
"""


def _free_ports(n: int) -> list[int]:
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _setup(directory: Path, domains: int) -> tuple[Path, list[tuple[int, str | None]]]:
    """The config, and the (port, SNI) of every handshake the probe will make."""
    ca = certgen.make_ca("bench CA")
    ca_path, _ = ca.write(directory, "ca", force=True)
    listeners = _free_ports((domains + PER_LISTENER - 1) // PER_LISTENER)
    lines = [f"socket=tls:127.0.0.1:{p}" for p in listeners]
    lines += ['loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    cases: list[tuple[int, str | None]] = []
    for i in range(domains):
        port = listeners[i // PER_LISTENER]
        name = f"d{i}.bench.example"
        cert, key = certgen.make_cert(ca, name).write(directory, f"d{i}", force=True)
        for param, value in (("server_domain", f"d{i}"), ("match_ip_address", f"[d{i}]127.0.0.1:{port}"),
                             ("match_sip_domain", f"[d{i}]{name}"), ("certificate", f"[d{i}]{cert}"),
                             ("private_key", f"[d{i}]{key}"), ("ca_list", f"[d{i}]{ca_path}"),
                             ("verify_cert", f"[d{i}]0"), ("require_cert", f"[d{i}]0")):
            lines.append(f'modparam("tls_mgm", "{param}", "{value}")')
        cases.append((port, name))
    for port in listeners:  # the probe also tries a name no pattern matches, and no SNI
        cases += [(port, "no-such-name.tlsmgm-probe.invalid"), (port, None)]
    cfg = directory / "opensips.cfg"
    cfg.write_text("\n".join(lines) + "\n")
    return cfg, cases


def _wait_listening(proc: subprocess.Popen, count: int) -> None:
    seen = 0
    while seen < count:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("tlsmgm serve ended: " + proc.stderr.read())
        if json.loads(line).get("event") == "listening":
            seen += 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(cpu_probe())
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        cfg, cases = _setup(Path(tmp), args.domains)
        print(f"setup: {args.domains} domains, {len(cases)} handshakes, {time.perf_counter() - started:.1f} s")
        server = subprocess.Popen([sys.executable, "-m", "tlsmgm_cli", "serve", "-c", str(cfg), "--no-db",
                                   "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_listening(server, len({p for p, _ in cases}))
            # drain the serve records so that its stdout pipe never fills
            import threading

            threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()
            probe_times, phase_times, bare_times = [], [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                done = subprocess.run([sys.executable, "-m", "tlsmgm_cli", "probe", "-c", str(cfg), "--no-db",
                                       "--jobs", str(args.jobs), "--format", "json", "--timeout", "300"],
                                      capture_output=True, text=True)
                probe_times.append(time.perf_counter() - t0)
                report = json.loads(done.stdout)
                summary = report["summary"]
                if done.returncode != 0 or summary["cases"] != len(cases):
                    raise SystemExit(f"probe did not find everything as predicted: {summary}\n{done.stderr}")
                phase_times.append(summary["seconds"])
                t0 = time.perf_counter()
                bare = subprocess.run([sys.executable, "-c", BARE_LOOP, json.dumps(cases), str(args.jobs)],
                                      capture_output=True, text=True, check=True)
                bare_times.append(time.perf_counter() - t0)
                json.loads(bare.stdout)
        finally:
            server.terminate()
            server.wait(10)
    probe_s, phase_s, bare_s = (statistics.median(v) for v in (probe_times, phase_times, bare_times))
    print(f"tlsmgm probe (whole process, {len(cases)} handshakes, --jobs {args.jobs}): median {probe_s:.2f} s "
          f"(handshake phase {phase_s:.2f} s)")
    print(f"bare Python ssl handshakes (own process, same SNIs, {args.jobs} threads): median {bare_s:.2f} s")
    print(f"ratio probe/bare: {probe_s / bare_s:.2f}x whole process, {phase_s / bare_s:.2f}x handshake phase "
          "(target: within 2x)")


if __name__ == "__main__":
    main()
