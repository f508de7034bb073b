"""A torch model and an input shape -> the unit table of shared/spec/cost-model.md, section 1.

Units are found on the torch.fx graph: a boundary between two nodes (in execution order) is
cut-able when exactly one tensor crosses it. Segments between cut-able boundaries are the
units; a segment that only applies an element-wise op (activation, normalisation, dropout) or
a reshape is merged into the unit before it, since cutting before it moves the same bytes.
A residual block is therefore one unit, with no list of layer names involved.

FLOPs are counted by torch.utils.flop_counter on meta tensors (shapes only, no compute):
forward and backward separately, the first unit's input not requiring a gradient (as in real
training). Activation bytes are the tensors autograd saves for the backward pass, seen through
saved_tensors_hooks (parameters and buffers excluded, shared storages counted once).
"""

from __future__ import annotations

import operator
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import fx, nn
from torch.fx.passes.split_module import split_module
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from .registry import first_line
from .table import OPTIONAL_COLUMNS, PROFILE_COLUMNS, UnitTable
from .zoo import _shape

_ELEMENTWISE_MODULES = (nn.ReLU, nn.ReLU6, nn.Tanh, nn.Sigmoid, nn.GELU, nn.SiLU, nn.LeakyReLU, nn.ELU,
                        nn.Hardswish, nn.Hardtanh, nn.Dropout, nn.Dropout2d, nn.BatchNorm1d, nn.BatchNorm2d,
                        nn.LayerNorm, nn.GroupNorm, nn.Identity, nn.Flatten, nn.Softmax, nn.LogSoftmax)
_ELEMENTWISE_FUNCTIONS = {torch.relu, torch.tanh, torch.sigmoid, torch.flatten, torch.nn.functional.relu,
                          torch.nn.functional.relu6, torch.nn.functional.dropout, torch.nn.functional.gelu,
                          torch.nn.functional.silu, torch.nn.functional.softmax,
                          torch.nn.functional.log_softmax}
_ELEMENTWISE_METHODS = {"relu", "view", "reshape", "flatten", "contiguous", "sigmoid", "tanh",
                        "transpose", "permute", "squeeze", "unsqueeze",       # the same values, moved
                        "size", "dim"}                                         # x.view(x.size(0), -1)
_ELEMENTWISE_FUNCTIONS |= {torch.transpose, torch.permute, torch.squeeze, torch.unsqueeze, torch.reshape,
                           getattr}                                            # x.shape
# the same operations as torch.export writes them (aten overloads)
_aten = torch.ops.aten
_ELEMENTWISE_FUNCTIONS |= {_aten.relu.default, _aten.relu_.default, _aten.tanh.default, _aten.sigmoid.default,
                           _aten.gelu.default, _aten.silu.default, _aten.hardtanh.default, _aten.flatten.using_ints,
                           _aten.view.default, _aten.reshape.default, _aten.dropout.default, _aten.clone.default,
                           _aten.transpose.int, _aten.permute.default, _aten.unsqueeze.default, _aten.squeeze.dim}


@dataclass
class UnitGraph:
    """A model split at its cut-able boundaries: `units[i]` is a module taking one tensor."""
    gm: fx.GraphModule
    units: list[nn.Module]
    names: list[str]
    kinds: list[str]


def _tensor_meta(node: fx.Node):
    """The node's TensorMetadata; None when its value is not one tensor (a GRU's (output, h)
    tuple: no cut may carry it)."""
    meta = node.meta.get("tensor_meta")
    return meta if hasattr(meta, "shape") else None


class ForwardError(ValueError):
    """The model's forward is not one tensor in (the others at their defaults)."""


class InputShapeError(ValueError):
    """The model does not run on one sample of the given input shape."""


def _propagate_shapes(meta_model: fx.GraphModule, x: torch.Tensor) -> None:
    """ShapeProp, with a failing operation reported as the model's own error at its node (ShapeProp
    prints the traceback itself and wraps the error in one about its metadata)."""
    import contextlib
    import io

    from torch.fx.passes.shape_prop import ShapeProp

    class Shapes(ShapeProp):
        def run_node(self, n):
            self.at = n
            return super().run_node(n)

    sp = Shapes(meta_model)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            sp.propagate(x)
    except Exception as e:
        cause = e.__cause__ or e
        at = getattr(sp, "at", None)
        where = f" (at node '{at.target}', {at.op})" if at is not None else ""
        raise InputShapeError(f"{type(cause).__name__}: {first_line(cause).rstrip('.')}{where}") from None


def _literal(input_shape: Sequence[int]) -> tuple[int, ...]:
    return tuple(int(x) for x in input_shape)


def trace_units(model: nn.Module, input_shape: Sequence[int], dtype: torch.dtype = torch.float32) -> UnitGraph:
    """Trace `model` with torch.fx and split it into units at its cut-able boundaries (its input
    samples of `input_shape` and `dtype`: int64 for token indices).

    The returned unit modules share parameters with `model` (no copies), so running them in
    sequence is running the model.
    """
    gm = _graph_of(model)
    out = next(n for n in gm.graph.nodes if n.op == "output").args[0]
    if isinstance(out, (tuple, list)) and len(out) == 1:      # torch.export's graphs return (logits,)
        out = out[0]
    if not isinstance(out, fx.Node):          # a dict or a tuple (logits, aux): not one tensor to train on
        kind = "dict" if isinstance(out, dict) else "tuple" if isinstance(out, (tuple, list)) else type(out).__name__
        raise OutputShapeError(f"its forward returns a {kind}, where a classifier returns one tensor "
                               "of [batch, num_classes]: return the logits alone")
    # shapes on the meta device: no compute, no memory
    meta_model = _meta_copy(gm)
    _propagate_shapes(meta_model, torch.empty(2, *_literal(input_shape), device="meta", dtype=dtype))
    meta_by_name = {n.name: n.meta for n in meta_model.graph.nodes}
    for n in gm.graph.nodes:
        n.meta.update(meta_by_name.get(n.name, {}))

    seq = [n for n in gm.graph.nodes if n.op not in ("output", "get_attr")]
    index = {n: i for i, n in enumerate(seq)}
    out_node = next(n for n in gm.graph.nodes if n.op == "output")
    end = len(seq)
    # last use of every value (the output node counts as a use after everything)
    last_use = {}
    for n in seq:
        uses = [index.get(u, end) if u is not out_node else end for u in n.users]
        last_use[n] = max(uses) if uses else index[n]

    # boundary after position p is cut-able iff exactly one tensor value is live across it
    cut_after = []
    for p in range(len(seq) - 1):
        live = [n for n in seq[: p + 1] if last_use[n] > p]
        if len(live) == 1 and live[0] is seq[p] and _tensor_meta(live[0]) is not None:
            cut_after.append(p)

    # segments of op nodes (position 0 is the placeholder)
    bounds = [0] + [p for p in cut_after if p > 0] + [len(seq) - 1]
    segments = [list(range(a + 1, b + 1)) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]
    merged: list[list[int]] = []
    for seg in segments:
        if merged and _is_elementwise(gm, [seq[i] for i in seg]):
            merged[-1].extend(seg)
        else:
            merged.append(list(seg))
    # a leading reshape or activation (nothing to train before it) joins the first real unit
    if len(merged) > 1 and _is_elementwise(gm, [seq[i] for i in merged[0]]):
        merged[1] = merged[0] + merged[1]
        merged.pop(0)

    merged = _join_shared(gm, seq, merged)
    unit_of = {}
    for u, seg in enumerate(merged):
        for i in seg:
            unit_of[seq[i].name] = u
    placeholder = seq[0]

    def callback(node: fx.Node) -> int:
        if node.op == "get_attr":
            return unit_of[next(iter(node.users)).name]
        return unit_of.get(node.name, 0) if node is not placeholder else 0

    split = split_module(gm, model, callback, keep_original_order=True)
    calls = {n.target: n for n in split.graph.nodes if n.op == "call_module"}
    units = []
    for u in range(len(merged)):
        sub = getattr(split, f"submod_{u}")
        ph = [n for n in sub.graph.nodes if n.op == "placeholder"]
        if len(ph) > 1:
            # a functional graph (torch.export) reads its weights with get_attr, which split_module
            # passes in as extra inputs: bind them, so the unit takes one tensor like any other
            extra = calls[f"submod_{u}"].args[1:]
            if not all(getattr(a, "op", None) == "get_attr" for a in extra):
                raise RuntimeError(f"unit {u} of {type(model).__name__} takes {len(ph)} inputs")
            sub = _Bound(sub, [split.get_parameter(a.target) if _is_param(split, a.target) else
                               split.get_buffer(a.target) for a in extra])
        units.append(sub)
    names = [_unit_name(gm, [seq[i] for i in seg]) for seg in merged]
    kinds = [_unit_kind(gm, [seq[i] for i in seg]) for seg in merged]
    return UnitGraph(gm, units, names, kinds)


def _join_shared(gm: fx.GraphModule, seq: list[fx.Node], units: list[list[int]]) -> list[list[int]]:
    """Units that use one module's (or one tensor's) parameters are joined, with every unit between
    them: a cut between two uses of a shared layer would put its weights on both sides, where they
    would train apart (and be counted twice)."""
    unit_at = {i: u for u, seg in enumerate(units) for i in seg}
    pos = {n: i for i, n in enumerate(seq)}
    spans: dict[str, list[int]] = {}
    for n in seq:
        if n.op == "call_module" and any(True for _ in gm.get_submodule(n.target).parameters()):
            spans.setdefault(f"module {n.target}", []).append(unit_at.get(pos[n], 0))
    for g in gm.graph.nodes:                 # a functional graph (torch.export) reads weights with get_attr
        if g.op == "get_attr":
            spans.setdefault(f"attr {g.target}", []).extend(unit_at.get(pos[u], 0) for u in g.users if u in pos)
    cover = sorted((min(v), max(v)) for v in spans.values() if v and min(v) < max(v))
    if not cover:
        return units
    out, u = [], 0
    while u < len(units):
        hi = u
        for a, b in cover:
            if a <= hi and b > hi and a >= u:
                hi = b
        out.append([i for seg in units[u:hi + 1] for i in seg])
        u = hi + 1
    return out


class _Bound(nn.Module):
    """A unit whose weights were graph inputs, with them bound (the same tensors as the model's)."""

    def __init__(self, unit: nn.Module, tensors: list):
        super().__init__()
        self.unit = unit
        self._names = []
        for k, t in enumerate(tensors):
            name = f"w{k}"
            if isinstance(t, nn.Parameter):
                self.register_parameter(name, t)
            else:
                self.register_buffer(name, t)
            self._names.append(name)

    def forward(self, x):
        return self.unit(x, *[getattr(self, n) for n in self._names])


def _is_param(mod: nn.Module, target: str) -> bool:
    try:
        mod.get_parameter(target)
        return True
    except AttributeError:
        return False


def _graph_of(model: nn.Module) -> fx.GraphModule:
    """The model's torch.fx graph: traced, or (a torch.export program's module) its own graph
    without the export's shape guards, which would otherwise be inlined as extra live values."""
    if not isinstance(model, fx.GraphModule):
        gm = fx.symbolic_trace(model, concrete_args=_defaults_beyond_input(model))
        # the fixed arguments stay as placeholders with a check that they keep their value: drop both
        for n in [n for n in gm.graph.nodes if n.op == "placeholder"][1:]:
            for u in list(n.users):
                if u.op == "call_function" and getattr(u.target, "__name__", "") == "_assert_is_none":
                    gm.graph.erase_node(u)
            if not n.users:
                gm.graph.erase_node(n)
        gm.recompile()
        return gm
    gm = fx.GraphModule(model, model.graph)
    for n in list(gm.graph.nodes):
        if n.op == "call_module" and str(n.target).startswith("_guards") and not n.users:
            gm.graph.erase_node(n)
    gm.recompile()
    return gm


def _defaults_beyond_input(model: nn.Module) -> dict | None:
    """forward's arguments after the input, at their defaults (forward(x, mask=None) trains on x
    alone; traced as inputs, `mask is None` would read False). One that has no default is a second
    input, which EdgePlan's units (one tensor in, one out) cannot take."""
    import inspect
    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    rest = [p for p in params[1:] if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    needed = [p.name for p in rest if p.default is inspect.Parameter.empty]
    if needed:
        raise ForwardError(f"its forward takes more than one input ({', '.join([params[0].name] + needed)}), where "
                           "EdgePlan trains models of one input tensor: give the others defaults or wrap the model")
    return {p.name: p.default for p in rest} or None


def _is_meta(m: nn.Module) -> bool:
    """All of the module's tensors are on the meta device (buffers too: a unit may hold only a
    buffer, such as a normalisation's mean)."""
    import itertools
    return all(t.device.type == "meta" for t in itertools.chain(m.parameters(), m.buffers()))


def _meta_copy(gm: fx.GraphModule) -> fx.GraphModule:
    import copy
    return gm if _is_meta(gm) else copy.deepcopy(gm).to("meta")


def _is_elementwise_op(gm: fx.GraphModule, n: fx.Node) -> bool:
    if n.op == "call_module":
        return isinstance(gm.get_submodule(n.target), _ELEMENTWISE_MODULES)
    if n.op == "call_function":
        return n.target in _ELEMENTWISE_FUNCTIONS or n.target is operator.getitem
    return n.op == "call_method" and n.target in _ELEMENTWISE_METHODS


def _is_elementwise(gm: fx.GraphModule, nodes: list[fx.Node]) -> bool:
    if not all(_is_elementwise_op(gm, n) for n in nodes):
        return False
    # the merged segment must not change the number of values (reshape and flatten are free)
    first_in = nodes[0].args[0] if nodes[0].args else None
    tin, tout = _tensor_meta(first_in) if isinstance(first_in, fx.Node) else None, _tensor_meta(nodes[-1])
    if tin is None or tout is None:
        return False
    return int(np.prod(tin.shape)) == int(np.prod(tout.shape))


def _unit_name(gm, nodes) -> str:
    mods = [n for n in nodes if n.op == "call_module"]
    core = [n for n in mods if not isinstance(gm.get_submodule(n.target), _ELEMENTWISE_MODULES)]
    if not core:       # the work is a function (F.adaptive_avg_pool2d beside a Dropout): name it, not the Dropout
        work = [n for n in nodes if not _is_elementwise_op(gm, n) and n.op in ("call_function", "call_method")]
        if work:
            return work[0].name
    for n in core or mods:
        if n.op == "call_module":
            t = str(n.target)
            # a residual block: name it by its parent module (e.g. layers.3, not layers.3.conv1)
            if len([m for m in nodes if m.op == "call_module"]) > 3 and "." in t:
                return t.rsplit(".", 1)[0]
            return t
    return nodes[0].name


def _unit_kind(gm, nodes) -> str:
    kinds = []
    for n in nodes:
        if n.op == "call_module":
            kinds.append(type(gm.get_submodule(n.target)).__name__)
        elif n.op == "call_function":
            kinds.append(getattr(n.target, "__name__", str(n.target)))
        else:
            kinds.append(str(n.target))
    convs = sum(k.startswith("Conv") for k in kinds)
    if convs > 1 or "add" in kinds:
        return f"Block({convs} conv)"
    kinds = [k.split(".")[0] for k in kinds]           # aten overloads: conv2d.default -> conv2d
    short = [k for k in kinds if k not in ("Flatten", "flatten", "Dropout", "Identity",      # no work to name
                                           "size", "dim", "getattr", "getitem", "view", "reshape", "contiguous")]
    return "+".join(dict.fromkeys(short or kinds))


class OutputShapeError(ValueError):
    """The model's output is not a classifier's (batch, num_classes)."""


def profile_model(model: nn.Module, input_shape: Sequence[int], bytes_per_value: int = 4,
                  measure: bool = False, name: str = "", measure_batch: int = 8,
                  measure_repeats: int = 5, num_classes: int | None = None,
                  input_dtype: torch.dtype = torch.float32) -> UnitTable:
    """Profile `model` on samples of `input_shape` (as the model takes them, after the batch axis)
    into a UnitTable; with `num_classes`, its output must be (batch, num_classes) (OutputShapeError).

    FLOPs and saved-activation bytes come from meta tensors (exact, shape-based). With
    `measure=True` each unit is also timed forward and backward on this host (seconds per
    sample, median of `measure_repeats`), in columns fwd_time_s and bwd_time_s. Samples of
    token indices (`input_dtype` int64) travel as 8 bytes a value, whatever `bytes_per_value`.
    """
    shape = _literal(input_shape)
    ug = trace_units(model, shape, input_dtype)
    batch = 2  # BatchNorm needs more than one value per channel in training mode
    per_value = bytes_per_value if input_dtype.is_floating_point else torch.empty(0, dtype=input_dtype).element_size()
    rows = [dict(name="input", fwd_flops=0.0, bwd_flops=0.0,
                 out_bytes=float(np.prod(shape)) * per_value, act_bytes=0.0, params=0, param_bytes=0.0,
                 buffer_bytes=0.0)]
    x = torch.empty(batch, *shape, device="meta", dtype=input_dtype)
    scale = bytes_per_value / 4.0
    for u, unit in enumerate(ug.units):
        meta_unit = _meta_unit(unit)
        x_in = x.detach().requires_grad_(u > 0)
        fwd, bwd, saved, y = _count_unit(meta_unit, x_in)
        bwd_in = _input_grad_flops(meta_unit, x_in) if u > 0 else 0.0
        n_params = sum(p.numel() for p in unit.parameters())
        # floating buffers (a batch norm's running statistics) travel with the weights
        # (validation.partition.state_tensors); the count of batches tracked does not
        n_buffers = sum(b.numel() for b in unit.buffers() if b.is_floating_point())
        rows.append(dict(name=ug.names[u], fwd_flops=fwd / batch, bwd_flops=bwd / batch, bwd_in_flops=bwd_in / batch,
                         out_bytes=float(y[0].numel()) * bytes_per_value,
                         act_bytes=saved / batch * scale, params=int(n_params),
                         param_bytes=float(n_params) * bytes_per_value,
                         buffer_bytes=float(n_buffers) * bytes_per_value, gemm_k=gemm_k(unit)))
        x = y.detach()
    if num_classes is not None and tuple(x.shape) != (batch, num_classes):
        raise OutputShapeError(f"its output for a batch of {batch} has shape {list(x.shape)}, where a classifier's "
                               f"is [batch, num_classes] = [{batch}, {num_classes}] (the input reaches it as "
                               f"[batch, {', '.join(map(str, shape))}])")
    rows[0]["bwd_in_flops"] = 0.0
    rows[0]["gemm_k"] = 0.0
    df = pd.DataFrame(rows, columns=PROFILE_COLUMNS + OPTIONAL_COLUMNS)
    table = UnitTable(df, name or type(model).__name__, shape, bytes_per_value, ["input"] + ug.kinds)
    if measure:
        f, b = measure_units(ug, shape, batch=measure_batch, repeats=measure_repeats, dtype=input_dtype)
        table.df["fwd_time_s"] = np.concatenate([[0.0], f])
        table.df["bwd_time_s"] = np.concatenate([[0.0], b])
    return table


def gemm_k(unit: nn.Module) -> float:
    """The reduction length of the unit's matrix products (edgeplan.compute charges short ones):
    a convolution's in_channels/groups x kernel size, a linear layer's in_features; over several,
    the harmonic mean weighted by their parameters; 0 for a unit without any."""
    num = den = 0.0
    for m in unit.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            k = m.in_channels // m.groups * int(np.prod(m.kernel_size))
        elif isinstance(m, nn.Linear):
            k = m.in_features
        else:
            continue
        w = float(m.weight.numel())
        if k > 0 and w > 0:
            num, den = num + w, den + w / k
    return num / den if den > 0 else 0.0


def _meta_unit(unit: nn.Module) -> nn.Module:
    import copy
    return unit if _is_meta(unit) else copy.deepcopy(unit).to("meta")


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                        _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:
    """Backward of a convolution: each of grad_input and grad_weight costs one multiply-add
    per forward multiply-add. (torch's own formula over-counts grouped and depthwise
    convolutions by about groups/2: MobileNetV2's backward came out at 19x its forward.)"""
    fwd = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed=transposed)
    return fwd * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


_FLOP_MAPPING = {torch.ops.aten.convolution_backward: _conv_backward_flop}


def _count_unit(unit: nn.Module, x: torch.Tensor):
    unit.train()
    keep = {t.untyped_storage()._cdata for t in list(unit.parameters()) + list(unit.buffers())}
    storages: dict[int, int] = {}

    def pack(t):
        if t.numel() > 0 and t.untyped_storage()._cdata not in keep:
            st = t.untyped_storage()
            storages[st._cdata] = max(storages.get(st._cdata, 0), t.numel() * t.element_size())
        return t

    with FlopCounterMode(display=False, custom_mapping=_FLOP_MAPPING) as fc_f:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = unit(x)
    fwd = fc_f.get_total_flops()
    bwd = 0
    if y.requires_grad:
        with FlopCounterMode(display=False, custom_mapping=_FLOP_MAPPING) as fc_b:
            y.backward(torch.ones_like(y))
        bwd = fc_b.get_total_flops()
    return float(fwd), float(bwd), float(sum(storages.values())), y


def _input_grad_flops(unit: nn.Module, x: torch.Tensor) -> float:
    """Backward FLOPs of the unit's input gradient alone (its parameters frozen): what a pass
    that only carries the gradient down through the unit costs (pel's workers below a block)."""
    flags = [p.requires_grad for p in unit.parameters()]
    for p in unit.parameters():
        p.requires_grad_(False)
    try:
        unit.train()
        y = unit(x.detach().requires_grad_(True))
        if not y.requires_grad:
            return 0.0
        with FlopCounterMode(display=False, custom_mapping=_FLOP_MAPPING) as fc:
            y.backward(torch.ones_like(y))
        return float(fc.get_total_flops())
    finally:
        for p, f in zip(unit.parameters(), flags):
            p.requires_grad_(f)


def measure_units(ug: UnitGraph, input_shape, batch: int = 8, repeats: int = 5, dtype: torch.dtype = torch.float32):
    """Median forward and backward seconds per sample of each unit on this host, timed the way
    training runs them: each repeat a forward sweep through every unit, then the backward sweep
    back down (timing one unit over and over keeps its weights hot in cache and ran VGG-11 about
    25% faster than a real step). Thread CPU time, so other processes on the machine count less."""
    # token indices: zeros (every vocabulary has a first token)
    x = torch.randn(batch, *input_shape) if dtype.is_floating_point else torch.zeros(batch, *input_shape, dtype=dtype)
    for unit in ug.units:
        unit.train()
    n = len(ug.units)
    tf, tb = np.zeros((repeats + 1, n)), np.zeros((repeats + 1, n))
    for r in range(repeats + 1):
        ins, outs, h = [], [], x
        for u, unit in enumerate(ug.units):
            xi = h.detach().requires_grad_(u > 0)
            t0 = time.thread_time()
            h = unit(xi)
            tf[r, u] = time.thread_time() - t0
            ins.append(xi)
            outs.append(h)
        grad = torch.ones_like(h)
        for u in range(n - 1, -1, -1):
            if not outs[u].requires_grad:       # units below every parameter: no backward
                break
            t0 = time.thread_time()
            outs[u].backward(grad)
            tb[r, u] = time.thread_time() - t0
            grad = ins[u].grad
        for unit in ug.units:
            unit.zero_grad(set_to_none=True)
    return np.median(tf[1:], axis=0) / batch, np.median(tb[1:], axis=0) / batch


@contextmanager
def one_torch_thread():
    """Run the block on one torch thread, then restore the caller's count: timings as training
    runs them (one thread per process), and no OpenMP pool left spinning on the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def profile_zoo(name: str, input_shape: Sequence[int], num_classes: int = 10, bytes_per_value: int = 4,
                **kwargs) -> UnitTable:
    """Profile a zoo model on one thread; built on the meta device (no weights in memory) unless
    measuring."""
    from .zoo import build
    torch.manual_seed(0)
    with one_torch_thread():
        if kwargs.get("measure"):
            model = build(name, input_shape, num_classes)
        else:
            with torch.device("meta"):
                model = build(name, input_shape, num_classes)
        return profile_model(model, _shape(input_shape), bytes_per_value, name=name, **kwargs)


def split_at(ug: UnitGraph, cut: int) -> tuple[nn.Sequential, nn.Sequential]:
    """The model cut after unit `cut` (0..L): (units 1..cut, units cut+1..L), sharing parameters."""
    if not 0 <= cut <= len(ug.units):
        raise ValueError(f"cut {cut} out of range 0..{len(ug.units)}")
    return nn.Sequential(*ug.units[:cut]), nn.Sequential(*ug.units[cut:])
