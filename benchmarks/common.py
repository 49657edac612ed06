"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def machine() -> str:
    """One line naming the CPU, core count and the versions that matter for timings."""
    cpu = platform.processor() or "unknown cpu"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}; {os.cpu_count()} cores; Python {platform.python_version()}; numpy {np.__version__}"


def best_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The shortest of ``repeats`` timed calls of ``fn`` (seconds), and the last call's result."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out
