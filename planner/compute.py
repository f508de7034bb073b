"""How long a node computes a unit: FLOPs at its rate, plus what small layers really cost.

FLOPs divided by a rate under-predicts small layers: every unit call pays a fixed overhead
(dispatch, kernel launch, allocation) and moves its tensors through memory. Per node, with
`compute` f, `call_overhead` o (seconds per call, forward and backward each) and
`memory_bandwidth` beta (bytes/s):

    unit l, n samples, one call = n (FLOPs_l / f + traffic_l / beta) + o + params_l traffic / beta

Traffic per sample: the unit's input and output, once in the forward and twice in the backward;
per call, the parameters (once forward, twice backward). FLOPs_l are charged as `gemm_work` says:
a matrix product with a short reduction (a first convolution over 1-3 input channels reduces over
9-75 values) keeps a CPU's vector units far from full. A max-pooling unit's forward adds
POOL_FWD_FLOPS_PER_BYTE x its input bytes / f per sample. Per training step, a node that updates
parameters pays its optimizer: STEP_CALLS x o, and UPDATE_FLOPS / f + UPDATE_BYTES / beta per
parameter.

Without `call_overhead` or `memory_bandwidth` a node takes the defaults below, which scale with
its compute (a node ten times slower pays ten times the overhead). They were chosen on the
development machine (PyTorch 2.13, 2 x86 cores, one thread, batch 32) on what validation compares:
the devices' part of a split step against the whole step, trained in-process for every cut 1-4
of the digits CNN and VGG-11 (benchmarks/fit_compute.py, which measures the parts and searches
the five defaults). With these the parts' shares are within 17% of measured (the previous defaults,
fitted on per-unit sweeps, were 0.63x-1.61x: `measure_units` times a unit apart from the rest of
its part, which charged VGG-11's first unit's backward 2-3x what it costs inside the part, and
max pooling's forward on random input where the data's own runs 40% faster). `STEP_CALLS` is a
node's fixed cost per step of its part: the optimizer's step (~45 us measured apart) and taking up
its part again after waiting (caches, the interpreter's state), which a small part pays most. It
was measured where the other nodes' work runs in between on the same cores (validation plays every
node on this host), so it may overstate what a dedicated device pays between its blocks.
`edgeplan profile MODEL --measure` fits the three node figures on any host. Nodes with measured
times use them as they are (the overheads are in the measurements).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CALL_FLOPS = 6.0e6         # a unit call's overhead in FLOP-equivalents (50 us x 120 GFLOP/s)
FLOPS_PER_BYTE = 12.0      # memory traffic in FLOP-equivalents per byte (120 GFLOP/s / 10 GB/s)
# Max pooling's forward (which also records the argmax for the backward) runs below memory speed
# on CPUs, and slower on noisy inputs (branchy kernel): ~2.4 GB/s of its input here. Fitted above.
POOL_FWD_FLOPS_PER_BYTE = 50.0
# A matrix product reducing over k values runs at k / (k + SHORT_K) of the rate (gemm_work).
SHORT_K = 35.0
# Per step: a fixed cost in call overheads (the optimizer's ~45 us and resuming the part; see
# above), and per parameter 0.8 ns (measured apart): 4 FLOPs and a streaming pass over gradient,
# momentum and weight, which runs faster than the activations' traffic (6.4 effective bytes where
# 20 move).
STEP_CALLS = 7.0           # per step, in call overheads
UPDATE_FLOPS = 4.0         # per parameter and step
UPDATE_BYTES = 6.4         # per parameter and step, at the memory bandwidth


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


def gemm_work(table) -> tuple[np.ndarray, np.ndarray]:
    """Per unit and sample, its forward and backward FLOPs as charged: a matrix product reducing
    over k values (profile column gemm_k) runs at k / (k + SHORT_K) of the rate, in the forward
    and in the backward alike (a first convolution's weight gradient is as narrow as its
    forward). Units without matrix products, and profiles without gemm_k, are charged their FLOPs."""
    k = table.gemm_k
    g = 1.0 + np.divide(SHORT_K, k, out=np.zeros_like(k), where=k > 0)
    return g * table.fwd, g * table.bwd


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
    """Per-unit seconds of nodes known by their figures: per sample (fwd, bwd) and per call, the
    update per step (`upd_step`), and per node the optimizer's fixed seconds per step (`step`).
    Scalars give arrays over the units; arrays of n nodes give (n, L+1) arrays."""
    io_f, io_b, p_f, p_b = traffic(table)
    step = STEP_CALLS * np.asarray(o, float)
    f, o, bw = (np.asarray(x, float)[..., None] for x in (f, o, bw))
    one = np.where(np.arange(table.L + 1) > 0, o, 0.0)                # a forward call and a backward call
    pool = POOL_FWD_FLOPS_PER_BYTE * pool_bytes(table)
    fwd, bwd = gemm_work(table)
    return {"fwd": (fwd + pool) / f + io_f / bw, "bwd": bwd / f + io_b / bw,
            "call_fwd": one + p_f / bw, "call_bwd": one + p_b / bw,
            "upd_step": table.params * (UPDATE_FLOPS / f + UPDATE_BYTES / bw), "step": step}


def effective_flops(table, batch: float) -> float:
    """One sample's training work in the FLOP-equivalents a node of the default figures runs at
    its compute rate: FLOPs, memory traffic, and the calls' overheads shared over the batch. This
    host's rate in these units converts its measured times to a node's (validation)."""
    io_f, io_b, p_f, p_b = traffic(table)
    fwd, bwd = gemm_work(table)
    per_sample = float(np.sum(fwd + bwd) + FLOPS_PER_BYTE * np.sum(io_f + io_b)
                       + POOL_FWD_FLOPS_PER_BYTE * np.sum(pool_bytes(table)))
    per_call = float(2 * table.L * CALL_FLOPS + FLOPS_PER_BYTE * np.sum(p_f + p_b)
                     + STEP_CALLS * CALL_FLOPS + (UPDATE_FLOPS + FLOPS_PER_BYTE * UPDATE_BYTES) * np.sum(table.params))
    return per_sample + per_call / max(batch, 1.0)


def fit_host(table, batch: int) -> dict[str, float]:
    """This host's figures from a `measure=True` profile timed at `batch`: compute (FLOP/s), call
    overhead (s) and memory bandwidth (B/s), by non-negative least squares on every unit's
    forward and backward times (relative errors, so small units count), short reductions charged
    as the cost model charges them."""
    from scipy.optimize import nnls
    df = table.df
    if "fwd_time_s" not in df:
        raise ValueError("fit_host needs a measured profile (measure=True)")
    io_f, io_b, p_f, p_b = traffic(table)
    pool = pool_bytes(table)
    fwd, bwd = gemm_work(table)
    X, y = [], []
    for u in range(1, table.L + 1):
        for flops, io, pb, pl, t in ((batch * fwd[u], io_f[u], p_f[u], pool[u], df.fwd_time_s.iloc[u]),
                                     (batch * bwd[u], io_b[u], p_b[u], 0.0, df.bwd_time_s.iloc[u])):
            if t > 0:
                X.append([flops, 1.0, batch * io + pb, batch * pl])
                y.append(batch * t)
    X, y = np.array(X), np.array(y)
    w = 1.0 / y
    (a, o, c, _), _ = nnls(X * w[:, None], y * w)     # pooling's own column keeps it out of the three
    return {"compute": 1.0 / a if a > 0 else float("inf"), "call_overhead": float(o),
            "memory_bandwidth": 1.0 / c if c > 0 else float("inf")}
