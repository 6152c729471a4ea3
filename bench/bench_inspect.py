"""Benchmark: `tlsmgm inspect` over 1,000 certificate files in one invocation versus a shell
loop of `openssl x509 -noout -subject -issuer -serial -dates` over the same files.

Then (issue 12 item 11) one PEM bundle of --bundle certificates (default 10,000: one
CA-signed certificate repeated) inspected with --ca, so every certificate is verified as
a peer presenting it followed by the rest of the file: time must grow linearly.

Usage: python bench/bench_inspect.py [--count N] [--bundle N] [--bundle-only]
Prints both wall-clock times and the ratio (target: >= 20x), then the bundle time
(target: a 10,000-certificate bundle in seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def write_certs(directory: Path, count: int) -> None:
    """``count`` distinct certificates (shared key, so generation stays fast)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    issuer = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "AT"),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bench CA")])
    for i in range(count):
        subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "AT"),
                             x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bench"),
                             x509.NameAttribute(NameOID.COMMON_NAME, f"host{i}.example.com")])
        cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + dt.timedelta(days=90))
                .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"host{i}.example.com")]), False)
                .sign(key, hashes.SHA256()))
        (directory / f"cert{i:04d}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def bundle_seconds(directory: Path, count: int) -> float:
    """Seconds for `tlsmgm inspect BUNDLE --ca CA -f json` on a bundle of ``count`` certificates."""
    from tlsmgm_cli.core.x509 import certgen

    ca = certgen.make_ca("bench bundle CA")
    leaf = certgen.make_cert(ca, "bundle.example.com")
    (directory / "bundle-ca.pem").write_bytes(ca.cert_pem())
    bundle = directory / "bundle.pem"
    bundle.write_bytes(leaf.cert_pem() * count)
    return timed([sys.executable, "-m", "tlsmgm_cli", "inspect", str(bundle), "--ca",
                  str(directory / "bundle-ca.pem"), "-f", "json"])


def timed(command: list[str] | str, shell: bool = False) -> float:
    start = time.perf_counter()
    subprocess.run(command, shell=shell, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--bundle", type=int, default=10000, help="certificates in the bundle (default 10000)")
    parser.add_argument("--bundle-only", action="store_true", help="only the bundle measurement")
    args = parser.parse_args()
    if args.bundle_only:
        with tempfile.TemporaryDirectory() as tmp:
            took = bundle_seconds(Path(tmp), args.bundle)
        print(f"bundle of {args.bundle} certificates, inspect --ca: {took:.2f} s")
        return 0
    openssl = shutil.which("openssl")
    if openssl is None:
        print("openssl binary not found: nothing to compare with")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        write_certs(directory, args.count)
        ours = timed([sys.executable, "-m", "tlsmgm_cli", "inspect", str(directory / "*.pem"), "-f", "json"])
        loop = (f'for f in "{directory}"/*.pem; do {openssl} x509 -in "$f" -noout -subject -issuer '
                "-serial -dates; done")
        theirs = timed(["/bin/sh", "-c", loop])
        bundle = bundle_seconds(directory, args.bundle)
    print(f"certificates:                    {args.count}")
    print(f"tlsmgm inspect (one invocation): {ours:.2f} s")
    print(f"openssl x509 shell loop:         {theirs:.2f} s")
    print(f"ratio:                           {theirs / ours:.1f}x (target >= 20x)")
    print(f"bundle of {args.bundle} certificates, inspect --ca: {bundle:.2f} s (target: seconds, linear)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
