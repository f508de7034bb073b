"""What solvers return (Solution) and what several paradigms and their solvers share: cut ranges,
the half-FLOPs cut, branch groups. Below both paradigms/ and the other solvers: nothing here
imports them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..costs import CostModel
from ..errors import InfeasibleError


@dataclass
class Solution:
    decisions: dict
    status: str = "optimal"          # optimal | heuristic | baseline
    gap: float | None = 0.0
    info: dict = field(default_factory=dict)


def cut_range(cm: CostModel, paradigm: str) -> tuple[int, int]:
    """Allowed cuts: paradigms.<p>.min_cut..max_cut, by default 1..L-1 (both sides non-empty)."""
    p = getattr(cm.scn.spec.paradigms, paradigm)
    lo = 1 if p.min_cut is None else p.min_cut
    hi = cm.L - 1 if p.max_cut is None else min(p.max_cut, cm.L)
    if cm.L == 1 and p.min_cut is None:
        lo = hi = 1
    if lo > hi:
        raise InfeasibleError(f"no cut in {lo}..{hi}: the model has {cm.L} units; relax paradigms.{paradigm}."
                              "min_cut/max_cut", resource="cut")
    return lo, hi


def half_flops_cut(cm: CostModel, lo: int, hi: int) -> int:
    """The boundary nearest to half the model's training FLOPs (the 'uniform' baseline cut)."""
    F = cm.table.F
    if F[-1] <= 0:  # measured profile: halve the first device's measured time instead
        F = cm.S[cm.idx[cm.devices[0]]]
    c = int(np.argmin(np.abs(F[lo: hi + 1] - F[-1] / 2.0))) + lo
    return c


def fpl_groups(cm: CostModel, devices: list[str]) -> dict[str, str]:
    """Branch groups by data_source; untagged devices form one group, 'default'."""
    ds = cm.scn.nodes.data_source
    return {d: (str(ds[d]) if ds[d] is not None and ds[d] == ds[d] else "default") for d in devices}
