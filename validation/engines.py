"""The paradigms' programs by name (each written once for both transports)."""

from __future__ import annotations

from .dsgd_engine import DSGDEngine
from .engine import LOSS, Engine, Job, Shard, accuracy, train_centralized
from .pel_engine import PELEngine
from .split_engines import FLEngine, FPLEngine, PSLEngine, SLEngine

ENGINES = {"fl": FLEngine, "sl": SLEngine, "psl": PSLEngine, "fpl": FPLEngine, "dsgd": DSGDEngine, "pel": PELEngine}

__all__ = ["ENGINES", "LOSS", "Engine", "Job", "Shard", "accuracy", "train_centralized"]
