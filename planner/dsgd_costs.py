"""dsgd's costs (model parallelism along a path), in the one cost model's terms: the same
CostModel, routes and `finish` as every paradigm (shared/spec/cost-model.md, dsgd)."""

from __future__ import annotations

import numpy as np

from .costs import CostModel, Costs
from .graph import graph, shortest_path


def dsgd(cm: CostModel, stages: list[tuple[str, int, int]], path: list[str] | None = None,
         microbatches: int = 1, source: str | None = None) -> Costs:
    """Model parallelism: contiguous unit ranges (node, first, last) along a path of nodes.

    The source device holds the data; activations (with labels) go forward stage to stage and
    gradients come back. With m micro-batches (GPipe), an iteration is the sum of every stage
    and transfer for one micro-batch plus (m-1) times the largest of them.
    """
    from .errors import PlanError
    src = source or (path[0] if path else stages[0][0])
    path = list(path) if path else _stage_path(cm, src, [st[0] for st in stages])
    pos = {n: i for i, n in enumerate(path)}
    if len(pos) != len(path):
        raise PlanError(f"the path {path[:6]} visits a node twice")
    if src not in pos:
        raise PlanError(f"the data's source '{src}' is not on the path {path[:6]}")
    g = graph(cm.scn)
    unlinked = next(((a, b) for a, b in zip(path, path[1:]) if not g.has_edge(a, b)), None)
    if unlinked:
        raise PlanError(f"no link joins '{unlinked[0]}' and '{unlinked[1]}' on the path")
    expect = 1
    last_pos = -1
    for node, first, last in stages:
        if node not in pos:
            raise PlanError(f"stage node '{node}' is not on the path {path}")
        if pos[node] <= last_pos:
            raise PlanError(f"stages must follow the path's order; '{node}' comes too early")
        if first != expect or last < first or last > cm.L:
            raise PlanError(f"stage on '{node}' covers units {first}..{last}; stages must cover 1..{cm.L} "
                            "contiguously in order")
        expect, last_pos = last + 1, pos[node]
    if expect != cm.L + 1:
        raise PlanError(f"stages cover units 1..{expect - 1} of {cm.L}")
    m = int(microbatches)
    b = cm.batch[cm.idx[src]]
    mb = b / m
    items, labels = [], []
    compute: dict[str, float] = {}
    mem: dict[str, float] = {}
    transfers = []
    holders = [src] + [st[0] for st in stages]
    bounds = [0] + [st[2] for st in stages]
    for k, (node, first, last) in enumerate(stages):
        v = cm.idx[node]
        t = cm.span(v, first - 1, last, mb, update=False)   # per micro-batch; the step is not charged
        items.append(t)
        labels.append((node, "compute"))
        compute[node] = compute.get(node, 0.0) + cm.tau * m * t
        mem[node] = mem.get(node, 0.0) + cm.kopt * (cm.Wt[last] - cm.Wt[first - 1]) + b * (cm.A[last] - cm.A[first - 1])
    for k in range(len(stages)):
        a_node, b_node, unit = holders[k], holders[k + 1], bounds[k]
        if a_node == b_node:
            continue
        seg = path[pos[a_node]: pos[b_node] + 1]
        R = cm.routes([a_node], [b_node], concurrent=False, via=[seg])
        fwd_x = mb * (cm.out[unit] + cm.label)
        bwd_x = mb * cm.out[unit] if k > 0 else 0.0   # the input needs no gradient
        tf = float(R.time(np.array([fwd_x]), np.ones(1), True)[0])
        tb = float(R.time(np.array([bwd_x]), np.ones(1), False)[0])
        items += [tf, tb]
        labels += [(b_node, "forward"), (a_node, "backward")]     # the node receiving the transfer
        transfers.append((R, 0, cm.tau * m * fwd_x, cm.tau * m * bwd_x, 1.0))
    items = np.array(items)
    it = items.sum() + (m - 1) * items.max()
    T = cm.tau * it
    k = int(np.argmax(items))
    cost = cm.finish("dsgd", float(T), [src], np.array([T]), {"round": np.array([T])}, compute, transfers, mem)
    cost.critical_node, cost.critical_phase = labels[k]
    return cost


def _stage_path(cm: CostModel, src: str, holders: list[str]) -> list[str]:
    path = [src]
    for h in holders:
        if h == path[-1]:
            continue
        hops = shortest_path(cm.scn, path[-1], h)
        if hops is None:
            from .errors import PlanError
            raise PlanError(f"no path from '{path[-1]}' to stage node '{h}'")
        path += [hop.dst for hop in hops]
    return path
