"""How long a node computes a unit: FLOPs at its rate, plus what small layers really cost.

FLOPs divided by a rate under-predicts small layers: every unit call pays a fixed overhead
(dispatch, kernel launch, allocation) and moves its tensors through memory. Per node:

    time of unit l for n samples, one call = n (FLOPs_l / f + traffic_l / beta) + overhead + params_l traffic / beta

(plus, for a max-pooling unit's forward, POOL_FWD_FLOPS_PER_BYTE x its input bytes / f per sample)

with `compute` f, `call_overhead` (seconds per call, forward and backward each) and
`memory_bandwidth` beta (bytes/s). Traffic per sample: the unit's input and output, once in the
forward and twice in the backward; per call, the parameters (once forward, twice backward).
Without `call_overhead` or `memory_bandwidth` a node takes the defaults below, which scale with
its compute (a node ten times slower pays ten times the overhead): CALL_FLOPS and FLOPS_PER_BYTE
were fitted on the development machine (PyTorch on 2 x86 cores, one thread, five zoo models,
per-unit timings at batch 32-64: 29 us per call and 12.9 GB/s at 102 GFLOP/s); `edgeplan profile
MODEL --measure` fits the same three figures on any host. Nodes with measured times use them as
they are (the overheads are in the measurements).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALL_FLOPS = 3.0e6         # a unit call's overhead in FLOP-equivalents (29 us x 102 GFLOP/s)
FLOPS_PER_BYTE = 7.9       # memory traffic in FLOP-equivalents per byte (102 GFLOP/s / 12.9 GB/s)
UPDATE_FLOPS = 4.0         # FLOPs to update one parameter in one SGD-with-momentum step
# Max pooling's forward (which also records the argmax for the backward) runs far below memory
# speed on CPUs: ~1 GB/s of its input here, where the fitted traffic is 12 GB/s. Fitted with the
# figures above on eight zoo profiles (NNLS on per-unit times, relative errors): the digits CNN's
# predicted total went from 0.84x to 0.97x of the measured, VGG-11's from 0.98x to 1.03x.
POOL_FWD_FLOPS_PER_BYTE = 108.0


def node_figures(nodes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(compute FLOP/s, call overhead s, memory bandwidth B/s) per node, defaults filled in."""
    f = nodes.compute.astype(float).to_numpy()
    o = nodes.call_overhead.astype(float).to_numpy() if "call_overhead" in nodes else np.full(len(f), np.nan)
    bw = nodes.memory_bandwidth.astype(float).to_numpy() / 8.0 if "memory_bandwidth" in nodes else \
        np.full(len(f), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = np.where(np.isnan(o), CALL_FLOPS / f, o)
        bw = np.where(np.isnan(bw), f / FLOPS_PER_BYTE, bw)
    return f, o, bw


def traffic(table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bytes moved per unit: (forward per sample, backward per sample, forward per call,
    backward per call); index 0 (the input) moves nothing."""
    out = table.out
    io = np.concatenate([[0.0], out[:-1] + out[1:]])
    pb = table.pbytes
    return io, 2.0 * io, pb.copy(), 2.0 * pb


def pool_bytes(table) -> np.ndarray:
    """Per unit, the input bytes per sample of a max-pooling unit (0 for other units, and for
    profiles that do not name their units' kinds)."""
    kinds = list(getattr(table, "kinds", []) or [])
    out = np.zeros(table.L + 1)
    if len(kinds) == table.L + 1:
        for u in range(1, table.L + 1):
            if "MaxPool" in kinds[u]:
                out[u] = table.out[u - 1]
    return out


def flop_node_times(table, f, o, bw) -> dict[str, np.ndarray]:
    """Per-unit seconds of nodes known by their figures: per sample (fwd, bwd) and per call.
    Scalars give arrays over the units; arrays of n nodes give (n, L+1) arrays."""
    io_f, io_b, p_f, p_b = traffic(table)
    f, o, bw = (np.asarray(x, float)[..., None] for x in (f, o, bw))
    one = np.where(np.arange(table.L + 1) > 0, o, 0.0)                # a forward call and a backward call
    pool = POOL_FWD_FLOPS_PER_BYTE * pool_bytes(table)
    return {"fwd": (table.fwd + pool) / f + io_f / bw, "bwd": table.bwd / f + io_b / bw,
            "call_fwd": one + p_f / bw, "call_bwd": one + p_b / bw, "upd_step": UPDATE_FLOPS * table.params / f}


def effective_flops(table, batch: float) -> float:
    """One sample's training work in the FLOP-equivalents a node of the default figures runs at
    its compute rate: FLOPs, memory traffic, and the calls' overheads shared over the batch. This
    host's rate in these units converts its measured times to a node's (validation)."""
    io_f, io_b, p_f, p_b = traffic(table)
    per_sample = float(np.sum(table.fwd + table.bwd) + FLOPS_PER_BYTE * np.sum(io_f + io_b)
                       + POOL_FWD_FLOPS_PER_BYTE * np.sum(pool_bytes(table)))
    per_call = float(2 * table.L * CALL_FLOPS + FLOPS_PER_BYTE * np.sum(p_f + p_b))
    return per_sample + per_call / max(batch, 1.0)


def fit_host(table, batch: int) -> dict[str, float]:
    """This host's figures from a `measure=True` profile timed at `batch`: compute (FLOP/s), call
    overhead (s) and memory bandwidth (B/s), by non-negative least squares on every unit's
    forward and backward times (relative errors, so small units count)."""
    from scipy.optimize import nnls
    df = table.df
    if "fwd_time_s" not in df:
        raise ValueError("fit_host needs a measured profile (measure=True)")
    io_f, io_b, p_f, p_b = traffic(table)
    pool = pool_bytes(table)
    X, y = [], []
    for u in range(1, table.L + 1):
        for flops, io, pb, pl, t in ((table.fwd[u], io_f[u], p_f[u], pool[u], df.fwd_time_s.iloc[u]),
                                     (table.bwd[u], io_b[u], p_b[u], 0.0, df.bwd_time_s.iloc[u])):
            if t > 0:
                X.append([batch * flops, 1.0, batch * io + pb, batch * pl])
                y.append(batch * t)
    X, y = np.array(X), np.array(y)
    w = 1.0 / y
    (a, o, c, _), _ = nnls(X * w[:, None], y * w)     # pooling's own column keeps it out of the three
    return {"compute": 1.0 / a if a > 0 else float("inf"), "call_overhead": float(o),
            "memory_bandwidth": 1.0 / c if c > 0 else float("inf")}
