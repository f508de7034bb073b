"""Re-planning after the scenario changed (nodes added or removed): the new optimum, keeping the
earlier plan's structural choices where they stay optimal, and a list of what changed."""

from __future__ import annotations

from .costs import CostModel
from .errors import PlanError
from .planfile import Plan
from .units import fmt_si


def replan(cm: CostModel, para, old: Plan, method: str | None = None) -> tuple[Plan, list[str]]:
    if old.paradigm != para.name:
        raise PlanError(f"--from plan is for paradigm '{old.paradigm}', not '{para.name}'")
    method = method or para.default
    spec = para.solvers.get(method)
    if spec is None:
        raise PlanError(f"unknown solver '{method}' for {para.name}")
    prefer = None
    if para.name == "fpl":
        prefer = (int(old.paradigm_detail.get("junction", -1)), old.paradigm_detail.get("trunk"))
    if prefer is not None and method in ("exact", "milp"):
        import time
        t0 = time.perf_counter()
        sol = spec.fn(cm, prefer)
        costs = para.cost(cm, sol.decisions)
        new = para.to_plan(cm, sol.decisions, costs, method, sol.status, time.perf_counter() - t0, sol.gap, sol.info)
    else:
        new = para.solve(cm, method)
    return new, diff_plans(old, new)


def diff_plans(old: Plan, new: Plan) -> list[str]:
    out = []
    a = {r["node"]: r for r in old.assignments if r.get("role") == "device"}
    b = {r["node"]: r for r in new.assignments if r.get("role") == "device"}
    for n in sorted(b.keys() - a.keys()):         # in name order: a set's order changes from run to run
        out.append(f"added {n}")
    for n in sorted(a.keys() - b.keys()):
        out.append(f"removed {n}")
    from .tables import cell, human, label
    for k in sorted(set(old.paradigm_detail) | set(new.paradigm_detail)):
        va, vb = old.paradigm_detail.get(k), new.paradigm_detail.get(k)
        if k.endswith("round_latency_s"):
            continue                    # said once, below
        if cell(k, va) != cell(k, vb):  # a change one can see
            out.append(f"{label(k)}: {cell(k, va)} -> {cell(k, vb)}")
    if old.paradigm == new.paradigm == "dsgd":
        from .comparison import stage_layout
        sa, sb = stage_layout(old)[1], stage_layout(new)[1]
        if sa != sb:
            out.append(f"stages: {sa} -> {sb}")
    for n in sorted(a.keys() & b.keys()):
        for key in ("cut", "group", "junction", "server", "stage"):
            if key in a[n] or key in b[n]:
                if a[n].get(key) != b[n].get(key):
                    out.append(f"{n}: {key} {a[n].get(key)} -> {b[n].get(key)}")
        for key in ("channel_share", "server_share", "parameters"):
            va, vb = a[n].get(key), b[n].get(key)
            if va is not None and vb is not None and human(key, va) != human(key, vb):    # a change one can see
                out.append(f"{n}: {key.replace('_', ' ')} {human(key, va)} -> {human(key, vb)}")
    ra, rb = old.predicted.get("round_latency_s"), new.predicted.get("round_latency_s")
    if ra and rb and abs(ra - rb) > 1e-9 * ra:
        out.append(f"round latency {fmt_si(ra, 's')} -> {fmt_si(rb, 's')}")
    return out
