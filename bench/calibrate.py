"""A machine-speed reference printed by the benches: this sandbox's CPU speed varies by
up to 2x over a session, so every figure is shown next to the time of a fixed pure-Python
loop (about 0.12 s on a quiet machine here)."""

from __future__ import annotations

import os
import time


def cpu_probe() -> str:
    start = time.perf_counter()
    sum(range(10**7))
    elapsed = time.perf_counter() - start
    load = ", load average %.2f" % os.getloadavg()[0] if hasattr(os, "getloadavg") else ""
    return f"[machine: sum(range(10**7)) took {elapsed:.3f} s{load}]"
