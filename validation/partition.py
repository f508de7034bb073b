"""Cut the real torch model by a plan, from the same unit table the planner used.

The zoo model is traced into units (models.profile.trace_units: torch.fx split at the cut-able
boundaries), so "unit l" here is exactly unit l of the plan. Every structure holds deep copies
of those units:
- `Replicas` (fl, sl, psl): one full copy per device, units 1..c_i on the device and c_i+1..L
  on the server; averaging is unit by unit over the copies (FedAvg of the assembled models,
  weighted by samples), so client-side parts are averaged among the devices that hold them.
- `FplModel`: a branch (units 1..j) per device, averaged inside its group; a junction with one
  slot (a copy of unit j+1) per group; one trunk (units j+2..L).
- dsgd (validation.dsgd_engine): contiguous unit ranges of one model, a copy per replica.
- pel (validation.pel_engine): the model's parameters as one flat vector (`flat_params`), cut
  into blocks each round (`block_bounds`, `block_mask`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from edgeplan.models.profile import UnitGraph, trace_units
from edgeplan.models.registry import sample_dtype, sample_shape
from edgeplan.models.zoo import build
from torch import nn


def make_model(zoo: str, input_shape, num_classes: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return build(zoo, input_shape, num_classes)


def unit_modules(model: nn.Module, job) -> UnitGraph:
    """The model's units, traced on the sample shape it takes (runner.make_job has checked that
    they are the units the plan was costed on)."""
    return trace_units(model, sample_shape(job.spec.model), sample_dtype(job.spec.model))


def check_units(job, model: nn.Module) -> None:
    """The model traces into the very units the plan was costed on (job.cm.table), else the run
    could not be compared with it: a cached profile of an older model, whose code changed where
    the cache cannot see (a file it reads)."""
    traced = list(unit_modules(model, job).names)
    costed = list(job.cm.table.names[1:])
    if traced != costed:
        from edgeplan.errors import ScenarioError

        def some(names):
            return f"{len(names)} units ({', '.join(names[:4])}{', ...' if len(names) > 4 else ''})"
        raise ScenarioError(f"the model traces into {some(traced)} but the plan's cost model has {some(costed)}: "
                            "its profile is from an older model; run with --no-cache (or EDGEPLAN_NO_CACHE=1) to "
                            "profile it again", job.cm.scn.source, path="model")


def check_tokens(job, model: nn.Module) -> None:
    """Samples of token indices fit the model's embeddings: one sample of the data's largest index
    runs forward (an index beyond a vocabulary fails deep inside the training with "index out of
    range in self")."""
    ds = job.ds
    if ds.x_train.is_floating_point():
        return
    top = int(max(ds.x_train.max(), ds.x_test.max()))
    try:
        with torch.no_grad():
            model.eval()(torch.full((1, *ds.x_train.shape[1:]), top, dtype=ds.x_train.dtype))
    except IndexError as e:
        from edgeplan.errors import ScenarioError
        raise ScenarioError(f"the data holds token index {top:,}, beyond the model's vocabulary ({e}): give the "
                            "model's embedding more tokens or the data fewer", job.cm.scn.source,
                            path="training.dataset") from None


def make_optimizer(params, kind: str, lr: float):
    params = [p for p in params if p.requires_grad]
    if not params:
        return None
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr * 0.02)
    return torch.optim.SGD(params, lr=lr, momentum=0.9)


def average_into(copies: list[list[nn.Module]], weights: np.ndarray, unit: int) -> None:
    """Set unit `unit` of every copy to the weighted average of the copies' parameters and
    floating buffers."""
    mods = [c[unit] for c in copies]
    w = torch.tensor(weights / weights.sum(), dtype=torch.float32)
    with torch.no_grad():
        states = [m.state_dict() for m in mods]
        for key, ref in states[0].items():
            if not torch.is_floating_point(ref):
                continue
            avg = sum(wi * s[key] for wi, s in zip(w, states))
            for m in mods:
                m.state_dict()[key].copy_(avg)


@dataclass
class Replicas:
    """Full model copies per device (as lists of unit modules) with a cut per device."""
    units: list[list[nn.Module]]     # units[i][l]: device i's copy of unit l (0-based)
    cuts: list[int]

    @classmethod
    def build(cls, ug: UnitGraph, cuts: list[int]) -> Replicas:
        return cls([[copy.deepcopy(u) for u in ug.units] for _ in cuts], list(cuts))

    def head(self, i: int) -> nn.Sequential:
        return nn.Sequential(*self.units[i][: self.cuts[i]])

    def tail(self, i: int) -> nn.Sequential:
        return nn.Sequential(*self.units[i][self.cuts[i]:])

    def average(self, weights: np.ndarray) -> None:
        for unit in range(len(self.units[0])):
            average_into(self.units, weights, unit)

    def model(self, i: int = 0) -> nn.Sequential:
        return nn.Sequential(*self.units[i])


@dataclass
class FplModel:
    branches: list[list[nn.Module]]          # per device: units 1..j
    junction: dict[str, nn.Module]           # per group: its slot, a copy of unit j+1
    trunk: list[nn.Module]                   # units j+2..L
    groups: list[str]                        # per device

    @classmethod
    def build(cls, ug: UnitGraph, j: int, groups: list[str]) -> FplModel:
        branch = ug.units[:j]
        return cls([[copy.deepcopy(u) for u in branch] for _ in groups],
                   {g: copy.deepcopy(ug.units[j]) for g in dict.fromkeys(groups)},
                   [copy.deepcopy(u) for u in ug.units[j + 1:]], list(groups))

    def average_branches(self, weights: np.ndarray) -> None:
        for g in set(self.groups):
            members = [i for i, x in enumerate(self.groups) if x == g]
            if len(members) < 2:
                continue
            for unit in range(len(self.branches[0])):
                average_into([self.branches[i] for i in members], weights[members], unit)

    def model_for_group(self, g: str) -> nn.Sequential:
        i = self.groups.index(g)
        return nn.Sequential(*self.branches[i], self.junction[g], *self.trunk)


def block_bounds(P: int, sizes: np.ndarray, offset: int) -> list[tuple[int, int]]:
    """Blocks of the flat parameter vector: worker k gets sizes[k] consecutive parameters,
    starting `offset` along (wrapping round); returns (start, length) per worker."""
    out, pos = [], offset % max(P, 1)
    for s in sizes:
        out.append((pos, int(s)))
        pos = (pos + int(s)) % max(P, 1)
    return out


def state_tensors(model: nn.Module) -> list[torch.Tensor]:
    """What a model's weights are as they travel: its parameters, then its floating buffers (a
    batch norm's running statistics; the count of batches it tracked stays put). The planner's
    unit table counts the same values (`param_bytes` and `buffer_bytes`)."""
    return list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]


def flat_state(model: nn.Module) -> torch.Tensor:
    return flat_of(state_tensors(model))


def set_state(model: nn.Module, vec: torch.Tensor) -> None:
    load_into(state_tensors(model), vec)


def flat_of(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The tensors' values as one vector (empty for none: a pooling stage has no parameters)."""
    return torch.cat([t.detach().reshape(-1) for t in tensors]) if tensors else torch.zeros(0)


def load_into(tensors: list[torch.Tensor], vec: torch.Tensor) -> None:
    """Copy a `flat_of` vector back into the tensors, in place."""
    k = 0
    with torch.no_grad():
        for t in tensors:
            n = t.numel()
            t.copy_(vec[k:k + n].view_as(t))
            k += n


def flat_params(model: nn.Module) -> torch.Tensor:
    return flat_of(list(model.parameters()))


def set_flat(model: nn.Module, vec: torch.Tensor) -> None:
    load_into(list(model.parameters()), vec)


def block_mask(P: int, start: int, length: int) -> torch.Tensor:
    m = torch.zeros(P, dtype=torch.bool)
    end = start + length
    if end <= P:
        m[start:end] = True
    else:
        m[start:] = True
        m[: end - P] = True
    return m


def optimizer_state(opt, params: list) -> torch.Tensor:
    """The optimizer's per-parameter state (SGD's momentum; Adam's two moments) as one flat
    vector, zeros where a buffer does not exist yet: what travels with a handed-on client part."""
    keys = ("exp_avg", "exp_avg_sq") if isinstance(opt, torch.optim.Adam) else ("momentum_buffer",)
    parts = []
    for key in keys:
        for p in params:
            buf = opt.state.get(p, {}).get(key) if opt is not None else None
            parts.append((buf if buf is not None else torch.zeros_like(p)).detach().reshape(-1))
    return torch.cat(parts) if parts else torch.zeros(0)


def set_optimizer_state(opt, params: list, vec: torch.Tensor, steps: float | None = None) -> None:
    """Load a vector of `optimizer_state` into the optimizer (Adam also gets its step count)."""
    adam = isinstance(opt, torch.optim.Adam)
    keys = ("exp_avg", "exp_avg_sq") if adam else ("momentum_buffer",)
    k = 0
    for key in keys:
        for p in params:
            n = p.numel()
            opt.state.setdefault(p, {})[key] = vec[k:k + n].view_as(p).clone()
            k += n
    if adam:
        for p in params:
            opt.state[p]["step"] = torch.tensor(float(steps or 0.0))


def pack_client(module: nn.Module, opt) -> torch.Tensor:
    """A handed-on client part as one vector: its weights (`flat_state`), then its optimizer state."""
    return torch.cat([flat_state(module), optimizer_state(opt, list(module.parameters()))])


def unpack_client(module: nn.Module, opt, vec: torch.Tensor, steps: float) -> None:
    """Load a `pack_client` vector; `steps` is the optimizer's step count so far (Adam needs it,
    and both ends know it: every device steps its local iterations per turn)."""
    params = list(module.parameters())
    n = sum(t.numel() for t in state_tensors(module))
    set_state(module, vec[:n])
    set_optimizer_state(opt, params, vec[n:], steps)
