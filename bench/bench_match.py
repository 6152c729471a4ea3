"""Benchmark `tlsmgm match --batch` end to end (a real subprocess).

Generates a config of N server domains spread over many address keys (at most 64
patterns per key, as OpenSIPS allows; a mix of exact names, wildcards and '*') and
100,000 queries (SNIs that hit exact names, wildcards, nothing; some without SNI; some on
uncovered listeners), then runs `tlsmgm match --batch` and prints:

* end-to-end queries/s (wall time of the whole process, startup and config read included);
* the per-query cost (wall time minus the same run with an empty batch), at 10,000 and at
  100 domains, and their ratio (the lookup is indexed by address key, so it must stay flat);
* the peak RSS of the process, with the queries and with none (the batch streams: memory
  must not grow with the number of queries).

The batch runs in one process: a two-process split (a forked child answering half the
lines) measured no gain here once the batch streamed (see the report of issue 13), and
cannot stream anyway (the second half's answers wait for the first half).

Usage: python bench/bench_match.py [--queries 100000] [--domains 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from calibrate import cpu_probe

PER_KEY = 50  # domains per address key (one pattern each, plus a '*' per key)


def write_config(path: str, domains: int) -> list[tuple[str, list[str]]]:
    """N server domains; returns [(listener, [names that exist])]."""
    lines = ['loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"']
    keys: list[tuple[str, list[str]]] = []
    for i in range(domains):
        k = i // PER_KEY
        addr = f"10.{k // 250}.{k % 250}.1:5061"
        if i % PER_KEY == 0:
            keys.append((addr, []))
        name = f"d{i}"
        if i % PER_KEY == PER_KEY - 1:
            pattern = "*"
        elif i % 5 == 0:
            pattern = f"*.w{i}.example.com"
        else:
            pattern = f"h{i}.example.com"
            keys[-1][1].append(pattern)
        lines += [f'modparam("tls_mgm", "server_domain", "{name}")',
                  f'modparam("tls_mgm", "match_ip_address", "[{name}]{addr}")',
                  f'modparam("tls_mgm", "match_sip_domain", "[{name}]{pattern}")']
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return keys


def _random_case(rnd: random.Random, text: str) -> str:
    return "".join(c.upper() if rnd.random() < 0.5 else c for c in text)


def write_queries(path: str, keys: list[tuple[str, list[str]]], count: int) -> None:
    """Distinct query lines (random letter case, random hosts), so that the batch's
    reuse of answers to repeated lines does not flatter the figures."""
    rnd = random.Random(42)
    out = []
    for _ in range(count):
        addr, names = rnd.choice(keys)
        roll = rnd.random()
        if roll < 0.6 and names:
            q = {"socket": addr, "sni": _random_case(rnd, rnd.choice(names))}
        elif roll < 0.8:
            q = {"socket": addr, "sni": f"x{rnd.randrange(10**9)}.w{rnd.randrange(10**4)}.example.com"}
        elif roll < 0.9:
            q = {"socket": addr}
        else:
            q = {"socket": "192.168.1.1:5061", "sni": f"n{rnd.randrange(10**9)}.example.com"}
        out.append(json.dumps(q))
    with open(path, "w") as fh:
        fh.write("\n".join(out) + "\n")


def run(cfg: str, queries: str) -> tuple[float, int, float]:
    """(wall seconds, output lines, peak RSS in MiB) of one `match --batch` process."""
    cmd = [sys.executable, "-m", "tlsmgm_cli", "match", "-c", cfg, "--batch", queries]
    start = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            err.seek(0)
            sys.exit(f"tlsmgm failed ({proc.returncode}): {err.read().decode()[:2000]}")
        out.seek(0)
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: out.read(1 << 20), b""))
    return elapsed, lines, usage.ru_maxrss / 1024


def measure(tmp: str, domains: int, count: int) -> dict[str, float]:
    cfg = os.path.join(tmp, f"cfg{domains}.cfg")
    keys = write_config(cfg, domains)
    queries = os.path.join(tmp, f"q{domains}.jsonl")
    write_queries(queries, keys, count)
    empty = os.path.join(tmp, "empty.jsonl")
    open(empty, "w").close()
    base, _, base_rss = min((run(cfg, empty) for _ in range(3)), key=lambda r: r[0])
    total, lines, rss = min((run(cfg, queries) for _ in range(3)), key=lambda r: r[0])
    assert lines == count, (lines, count)
    per_query = (total - base) / count
    return {"domains": domains, "keys": len(keys), "base_s": base, "total_s": total,
            "end_to_end_qps": count / total, "per_query_us": per_query * 1e6,
            "batch_qps": 1 / per_query, "base_rss": base_rss, "rss": rss}


def main() -> None:
    print(cpu_probe())
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--queries", type=int, default=100_000)
    ap.add_argument("--domains", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = measure(tmp, args.domains, args.queries)
        small = measure(tmp, 100, args.queries)
    for r in (big, small):
        print(f"{r['domains']:>6} domains / {r['keys']:>4} address keys: {args.queries} queries in "
              f"{r['total_s']:.2f} s end to end = {r['end_to_end_qps']:,.0f} queries/s "
              f"(startup + config read {r['base_s']:.2f} s; per query {r['per_query_us']:.2f} us "
              f"= {r['batch_qps']:,.0f} queries/s in the batch loop; peak RSS {r['rss']:.0f} MiB, "
              f"{r['base_rss']:.0f} MiB with no query)")
    print(f"per-query cost ratio {args.domains} vs 100 domains: "
          f"{big['per_query_us'] / small['per_query_us']:.2f}x (must be <= 2x)")


if __name__ == "__main__":
    main()
