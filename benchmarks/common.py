"""Helpers for benchmarks: timing (median of repeats, one BLAS thread) and printing tables."""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"


def timed(fn, repeats: int = 3):
    """(median seconds, last result)."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def show(title: str, df: pd.DataFrame, floatfmt: str = "{:.4g}") -> None:
    print(f"\n## {title}\n")
    with pd.option_context("display.width", 200, "display.max_columns", 50):
        print(df.to_string(index=False, float_format=lambda x: floatfmt.format(x)))
    sys.stdout.flush()


def quick() -> bool:
    return "--quick" in sys.argv
