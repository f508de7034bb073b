"""The six paradigms, by name."""

from __future__ import annotations

from .base import Paradigm, Solution, SolverSpec

NAMES = ("fl", "sl", "psl", "dsgd", "fpl", "pel")
_CACHE: dict[str, Paradigm] = {}


def get(name: str) -> Paradigm:
    from ..errors import PlanError
    if name not in NAMES:
        raise PlanError(f"unknown paradigm '{name}'; choose one of {', '.join(NAMES)}")
    if name not in _CACHE:
        from . import dsgd, fl, fpl, pel, psl, sl
        cls = {"fl": fl.FL, "sl": sl.SL, "psl": psl.PSL, "dsgd": dsgd.DSGD, "fpl": fpl.FPL, "pel": pel.PEL}[name]
        _CACHE[name] = cls()
    return _CACHE[name]


__all__ = ["NAMES", "get", "Paradigm", "Solution", "SolverSpec"]
