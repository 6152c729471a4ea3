"""Read a generated config with N tls_mgm domains (6 modparams each) and print the time."""
import os
import sys
import tempfile
import time

from tlsmgm_cli.core.cfg.parse import read_config


def make(n: int) -> str:
    out = ['loadmodule "proto_tls.so"', 'loadmodule "tls_openssl.so"', 'loadmodule "tls_mgm.so"', "socket=tls:127.0.0.1:5061"]
    for i in range(n):
        d = f"dom{i}"
        out += [
            f'modparam("tls_mgm", "server_domain", "{d}")',
            f'modparam("tls_mgm", "match_ip_address", "[{d}]10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}:5061")',
            f'modparam("tls_mgm", "match_sip_domain", "[{d}]{d}.example.com")',
            f'modparam("tls_mgm", "certificate", "[{d}]/etc/tls/{d}/cert.pem")  # cert',
            f'modparam("tls_mgm", "private_key", "[{d}]/etc/tls/{d}/key.pem")',
            f'modparam("tls_mgm", "tls_method", "[{d}]TLSv1_2-TLSv1_3")',
        ]
    out.append("route {\n\tif (is_method(\"OPTIONS\")) { sl_send_reply(200, \"OK\"); exit; }\n}")
    return "\n".join(out) + "\n"

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "opensips.cfg")
    with open(path, "w") as fh:
        fh.write(make(n))
    lines = sum(1 for _ in open(path))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        pc = read_config(path)
        best = min(best, time.perf_counter() - t)
    print(f"{n} domains, {lines} lines, {os.path.getsize(path)/1e6:.1f} MB: {len(pc.statements)} statements, "
          f"{len(pc.diagnostics)} diagnostics, best of 5: {best*1000:.0f} ms")
