"""Profiles of zoo and user models, kept on disk so that a command need not import torch.

Tracing a model takes torch (4-8 s to import here) and the tracing itself; its unit table depends
only on the model, the input shape, the class count, the torch version and the profiler's (the
edgeplan release, FORMAT and the profiler's code). The table is kept in
the user's cache folder (platformdirs: ~/.cache/edgeplan/profiles on Linux; EDGEPLAN_CACHE_DIR
overrides), one JSON file per key, written atomically. `--no-cache` (or EDGEPLAN_NO_CACHE=1)
profiles afresh and writes nothing. A file that does not read back is profiled again; a folder that
cannot be written is only not cached.

A user's own model is keyed by the content of its code (every .py file of the package or the
module file named in model.module, or the .pt2 file), so editing it profiles again.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

FORMAT = 4          # 2: tables carry gemm_k; 3: a static-batch .pt2 is refused (no table for it may stay);
                    # 4: the profiler's code is part of the key (profiler_digest)
_enabled = True


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled and os.environ.get("EDGEPLAN_NO_CACHE", "") in ("", "0")


def folder() -> Path:
    env = os.environ.get("EDGEPLAN_CACHE_DIR")
    if env:
        return Path(env) / "profiles"
    import platformdirs
    return Path(platformdirs.user_cache_dir("edgeplan", appauthor=False)) / "profiles"


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(package)
    except PackageNotFoundError:
        return "none"


def torch_version() -> str:
    return _version("torch")


def code_digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(str(p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def user_code(ref: str | None, export: str | None, base_dir: Path | None) -> list[Path] | None:
    """The files whose content defines a user model, or None if they cannot be found (not cached)."""
    base = Path(base_dir or ".")
    if export:
        p = base / export
        return [p] if p.is_file() else None
    if not ref or ":" not in ref:
        return None
    top, *rest = ref.split(":")[0].split(".")
    pkg = base / top
    if pkg.is_dir():
        return [p for p in pkg.rglob("*.py") if "__pycache__" not in p.parts]
    single = base / (top + ".py")
    return [single] if single.is_file() else None


@functools.cache
def profiler_digest() -> str:
    """The profiler's own code (how a model is cut into units and counted): a change to it within
    one release, as in a checkout being worked on, profiles again (a plan costed on an older cut of
    the model than validation traces would not match its bytes)."""
    from importlib.util import find_spec  # where the modules are, without importing torch
    return code_digest([Path(find_spec(f"edgeplan.models.{m}").origin) for m in ("profile", "table")])[:16]


def cached_table(key: dict, build: Callable[[], object]):
    """The unit table for `key` from the cache, else `build()` (then stored)."""
    from edgeplan.models.table import UnitTable
    if not enabled():
        return build()
    full = {**key, "torch": torch_version(), "edgeplan": _version("edgeplan"), "format": FORMAT,
            "profiler": profiler_digest()}
    digest = hashlib.sha256(json.dumps(full, sort_keys=True, default=str).encode()).hexdigest()[:32]
    path = folder() / f"{digest}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("key") == json.loads(json.dumps(full, sort_keys=True, default=str)):
            import pandas as pd
            return UnitTable(pd.DataFrame(data["columns"]), data["model"], tuple(data["input_shape"]),
                             int(data["bytes_per_value"]), list(data["kinds"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    table = build()
    record = {"key": json.loads(json.dumps(full, sort_keys=True, default=str)), "model": table.model,
              "input_shape": list(table.input_shape), "bytes_per_value": table.bytes_per_value,
              "kinds": list(table.kinds), "columns": {c: table.df[c].tolist() for c in table.df.columns}}
    try:
        from .files import atomic_write_text
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(record))
    except OSError:
        pass
    return table
