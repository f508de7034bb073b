"""dsgd's costs (model parallelism along a path), in the one cost model's terms: the same
CostModel, routes and `finish` as every paradigm (shared/spec/cost-model.md, dsgd)."""

from __future__ import annotations

import numpy as np

from .costs import CostModel, Costs
from .graph import graph, shortest_path


def dsgd(cm: CostModel, stages: list[tuple[str, int, int]], path: list[str] | None = None,
         microbatches: int = 1, source: str | None = None, replicas: list[list[str]] | None = None) -> Costs:
    """Model parallelism: contiguous unit ranges (node, first, last) along a path of nodes.

    The source device holds the data; activations (with labels) go forward stage to stage and
    gradients come back. With m micro-batches (GPipe), an iteration is the sum of every stage
    and transfer for one micro-batch plus (m-1) times the largest of them.

    A stage may be replicated (PipeDream): `replicas[s]` lists its nodes, consecutive on the
    path, its stage node first. Each replica computes 1/r of every micro-batch. The
    micro-batch's activations enter at the first replica and travel along the group's links
    (the scatter: a link carries the share of the replicas beyond it); the outputs leave through
    the last replica the same way (the gather: a link carries the share of the replicas before
    it); gradients retrace both. Once per iteration the replicas all-reduce the stage's weight
    gradients along the group: reduced towards the first replica and broadcast back, each link
    carrying the stage's weight bytes once each way, in turn after the pipeline's flush.
    """
    from .errors import PlanError
    src = source or (path[0] if path else stages[0][0])
    groups = [list(g) for g in replicas] if replicas else [[st[0]] for st in stages]
    if len(groups) != len(stages) or any(not g or g[0] != st[0] for g, st in zip(groups, stages)):
        raise PlanError("each stage's replicas must start with the stage's own node")
    path = list(path) if path else _stage_path(cm, src, [n for g in groups for n in g])
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
    for grp, (node, first, last) in zip(groups, stages):
        for n in grp:
            if n not in pos:
                raise PlanError(f"stage node '{n}' is not on the path {path}")
        if pos[node] <= last_pos:
            raise PlanError(f"stages must follow the path's order; '{node}' comes too early")
        if [pos[n] for n in grp] != list(range(pos[node], pos[node] + len(grp))):
            raise PlanError(f"the replicas of the stage on '{node}' ({', '.join(grp)}) must be consecutive "
                            "nodes of the path, in its order")
        if first != expect or last < first or last > cm.L:
            raise PlanError(f"stage on '{node}' covers units {first}..{last}; stages must cover 1..{cm.L} "
                            "contiguously in order")
        expect, last_pos = last + 1, pos[grp[-1]]
    if expect != cm.L + 1:
        raise PlanError(f"stages cover units 1..{expect - 1} of {cm.L}")
    m = int(microbatches)
    b = cm.batch[cm.idx[src]]
    mb = b / m
    comp_items, comp_labels, items, labels = [], [], [], []
    compute: dict[str, float] = {}
    mem: dict[str, float] = {}
    transfers = []
    sync = 0.0                                              # the all-reduces, per iteration

    named: dict[str, float] = {}      # per round, by the phase names validation meters them under

    def link(a_node, b_node, seg, moves, per_iter=0.0):
        """A route's items, one per (bytes, forward?, phase) per micro-batch, and its energy
        ledger entry (with `per_iter` bytes each way once per iteration)."""
        R = cm.routes([a_node], [b_node], concurrent=False, via=[seg])
        for x, fwd, phase in moves:
            items.append(float(R.time(np.array([x]), np.ones(1), fwd)[0]))
            labels.append((b_node, "forward") if fwd else (a_node, "backward"))   # the node receiving it
            if x > 0:
                named[phase] = cm.tau * m * items[-1]
        up = sum(x for x, fwd, _ in moves if fwd)
        down = sum(x for x, fwd, _ in moves if not fwd)
        if per_iter:
            transfers.append((R, 0, cm.tau * (m * up + per_iter), cm.tau * (m * down + per_iter), 1.0))
        else:
            transfers.append((R, 0, cm.tau * m * up, cm.tau * m * down, 1.0))
        return R

    prev = src
    for k, (grp, (node, first, last)) in enumerate(zip(groups, stages)):
        r = len(grp)
        x_in_f = mb * (cm.out[first - 1] + cm.label)
        x_in_b = mb * cm.out[first - 1] if k > 0 else 0.0   # the input needs no gradient
        if prev != node:
            link(prev, node, path[pos[prev]: pos[node] + 1], [(x_in_f, True, f"fwd{k}"), (x_in_b, False, f"bwd{k}")])
        times = []
        for n in grp:
            v = cm.idx[n]
            t = cm.span(v, first - 1, last, mb / r, update=False)   # per micro-batch; the step is not charged
            times.append(t)
            named[f"stage{k}.{len(times) - 1}"] = cm.tau * m * t
            compute[n] = compute.get(n, 0.0) + cm.tau * m * t
            mem[n] = mem.get(n, 0.0) + (cm.Wm[last] - cm.Wm[first - 1]) + \
                b / r * (cm.A[last] - cm.A[first - 1])
        comp_items.append(max(times))
        comp_labels.append((grp[int(np.argmax(times))], "compute"))
        x_out_f = mb * (cm.out[last] + cm.label) if last < cm.L else 0.0   # the loss stays where it is
        x_out_b = mb * cm.out[last] if last < cm.L else 0.0
        w = cm.Wp[last] - cm.Wp[first - 1]            # the replicas all-reduce gradients: parameters only
        for i, (a_node, b_node) in enumerate(zip(grp, grp[1:])):    # the replicas' own links
            beyond, before = (r - 1 - i) / r, (i + 1) / r
            R = link(a_node, b_node, [a_node, b_node],
                     [(x_in_f * beyond, True, f"sc{k}.{i}"), (x_in_b * beyond, False, f"sb{k}.{i}"),
                      (x_out_f * before, True, f"ga{k}.{i}"), (x_out_b * before, False, f"gb{k}.{i}")], w)
            t_sync = float(R.time(np.array([w]), np.ones(1), False)[0]) + float(R.time(np.array([w]), np.ones(1), True)[0])
            sync += t_sync
            if t_sync > 0:
                named[f"sync{k}.{i}"] = cm.tau * t_sync
        prev = grp[-1]
    items = np.array(comp_items + items)
    labels = comp_labels + labels
    it = items.sum() + sync + (m - 1) * items.max()
    T = cm.tau * it
    k = int(np.argmax(items))
    phases = {p: np.array([v]) for p, v in named.items()}      # the source's timeline, phase by phase
    cost = cm.finish("dsgd", float(T), [src], np.array([T]), phases, compute, transfers, mem)
    cost.critical_node, cost.critical_phase = labels[k]
    return cost


def dsgd_hops(cm: CostModel, decisions: dict) -> list[tuple[str, str, list[str]]]:
    """The node pairs a dsgd plan's messages travel between, each with the path segment `dsgd`
    costs it along: (sender forward, receiver forward, segment). Into each stage from the one
    before (through any relay nodes between them), and between consecutive replicas of a stage.
    Gradients travel each pair the other way."""
    stages = decisions["stages"]
    groups = [list(g) for g in decisions.get("replicas") or [[st[0]] for st in stages]]
    src = decisions.get("source") or stages[0][0]
    path = list(decisions.get("path") or _stage_path(cm, src, [n for g in groups for n in g]))
    pos = {n: i for i, n in enumerate(path)}
    out, prev = [], src
    for grp in groups:
        if prev != grp[0]:
            out.append((prev, grp[0], path[pos[prev]: pos[grp[0]] + 1]))
        out += [(a, b, [a, b]) for a, b in zip(grp, grp[1:])]
        prev = grp[-1]
    return out


_PHASE_WORDS = {"stage": "stage {k} compute", "fwd": "activations into stage {k}", "bwd": "gradients back out of stage {k}",
                "sc": "stage {k} scatter, link {l}", "sb": "stage {k} scatter gradients, link {l}",
                "ga": "stage {k} gather, link {l}", "gb": "stage {k} gather gradients, link {l}",
                "sync": "stage {k} replicas' gradient sum, link {l}"}


def phase_words(phase: str) -> str:
    """A dsgd phase as a person reads it: stage0.1 -> 'stage 1 compute (replica 2)', fwd0 -> 'data
    into stage 1' (stages and links counted from 1); other names are returned as they are."""
    import re
    m = re.fullmatch(r"([a-z]+)(\d+)(?:\.(\d+))?", phase)
    if not m or m.group(1) not in _PHASE_WORDS:
        return phase
    kind, k, i = m.group(1), int(m.group(2)) + 1, int(m.group(3) or 0) + 1
    if kind == "fwd" and k == 1:
        return "data into stage 1"
    words = _PHASE_WORDS[kind].format(k=k, l=i)
    return words + (f" (replica {i})" if kind == "stage" and i > 1 else "")


def smallest_microbatch(batch: int, microbatches: int) -> int:
    """Samples in the smallest micro-batch, as torch.chunk cuts a batch: equal ones of
    ceil(batch / microbatches), the last what is left."""
    size = -(-batch // microbatches)
    return batch - size * (-(-batch // size) - 1)


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
