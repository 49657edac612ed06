"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import os
import platform

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
