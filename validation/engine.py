"""A paradigm's training round as one program over all its nodes, on real data and the real
model cut by the plan (validation.partition), metered (validation.meters): compute timed here and
converted to the node's speed, every tensor that crosses a cut counted in bytes as it travels,
transfer times modelled at the plan's allocated rates or timed on shaped links. The program runs
through a transport (validation.transport): all nodes in this process, or one process per node
over torch.distributed. The round's latency is assembled from its events exactly as the cost
model assembles its prediction (max over devices for parallel paradigms, a sum for sl, sum +
(m-1) max over micro-batch items for dsgd).

This module: what every paradigm's program shares (the job, the shards, the split step, the
engine's life cycle); the programs are in split_engines (fl, psl, sl, fpl), dsgd_engine and
pel_engine, registered in engines.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from edgeplan.costs import CostModel
from edgeplan.models.profile import one_torch_thread
from torch import nn

from .data import Dataset
from .meters import RoundMeter
from .node_random import NodeStreams, OnNodeStreams
from .partition import flat_state, make_model, make_optimizer, set_state, unit_modules
from .transport import LABEL_DTYPES, off_wire, on_wire

LOSS = nn.CrossEntropyLoss()


class Shard:
    """A device's samples: shuffled each epoch, batches drawn in order, reproducible."""

    def __init__(self, ds: Dataset, idx: np.ndarray, seed: int):
        self.ds, self.idx, self.seed = ds, np.asarray(idx, int), seed
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(self.idx)
        self.pos = 0

    def next(self, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        take = []
        while len(take) < b:
            if self.pos >= len(self.order):
                self.order = self.rng.permutation(self.idx)
                self.pos = 0
            k = min(b - len(take), len(self.order) - self.pos)
            take.extend(self.order[self.pos:self.pos + k])
            self.pos += k
        t = torch.as_tensor(np.array(take))
        return self.ds.x_train[t], self.ds.y_train[t]

    def state(self) -> dict:
        """Plain data and tensors only (checkpoints load with weights_only=True: no code)."""
        return {"rng": self.rng.bit_generator.state, "order": torch.as_tensor(np.asarray(self.order, np.int64)),
                "pos": int(self.pos)}

    def load(self, s: dict) -> None:
        self.rng.bit_generator.state = s["rng"]
        self.order, self.pos = np.asarray(s["order"]).astype(int), int(s["pos"])


@dataclass
class Job:
    """What every engine needs: the scenario's cost model, the plan's decisions, data, shards."""
    cm: CostModel
    decisions: dict
    ds: Dataset
    shards: dict
    seed: int
    split: list = None          # per device: samples held, asked, classes (data.split_summary)
    coverage: float = 1.0       # share of test samples whose class the training data holds
    plan: object = None         # the plan as evaluated against the scenario (edgeplan.planfile.Plan)

    @property
    def spec(self):
        return self.cm.scn.spec

    def batch(self, dev: str) -> int:
        return int(self.cm.batch[self.cm.idx[dev]])

    def model(self) -> nn.Module:
        m = self.spec.model
        if m.zoo is None:                        # the user's own model (model.module / model.export)
            from edgeplan.models.user import user_model
            return user_model(m, self.cm.scn.base_dir, self.seed)
        return make_model(m.zoo, m.input_shape, m.num_classes, self.seed)

    def optimizer(self, params):
        return make_optimizer(params, self.spec.training.optimizer, self.spec.training.learning_rate)


def accuracy(model: nn.Module, ds: Dataset) -> tuple[float, float]:
    model.eval()
    with torch.no_grad():
        out = model(ds.x_test)
        loss = float(LOSS(out, ds.y_test))
        acc = float((out.argmax(1) == ds.y_test).float().mean())
    model.train()
    return acc, loss


def opt_step(opt):
    if opt is not None:
        opt.step()


def opt_zero(opt):
    if opt is not None:
        opt.zero_grad(set_to_none=True)


def send_module(tx, module: nn.Module, src: str, dst: str, link=None, up: bool = True, device: str = "",
                phase: str = "") -> None:
    """`module`'s weights (parameters and floating buffers) from `src`'s copy to `dst`'s. Without
    a link only for the accuracy test (not traffic); where one process plays both ends there is
    one copy and nothing to do."""
    if link is None and tx.here(src) and tx.here(dst):
        return
    if link is not None and tx.wire_dtype != torch.float32 and tx.here(src):
        # the sender's copy takes the wire's precision too: in process it is the receiver's copy
        # (one object), and distributed the two must then hold the same values
        set_state(module, off_wire(on_wire([flat_state(module)], tx.wire_dtype))[0])
    got = tx.move([flat_state(module)] if tx.here(src) else None, src, dst, link, up, device, phase)
    if tx.here(dst) and not tx.here(src) and got[0].numel():
        set_state(module, got[0])


def split_step(tx, link, dev: str, srv: str, x, y, head, tail, opt_dev, opt_srv: list, alpha: float = 1.0,
               has_head: bool = True, srv_phase: str = "server"):
    """One split iteration: the device's part forward, its activations (and labels) up the link,
    the server's part forward, loss, backward and step, the gradient down, the device's part
    backward and step. With no device part (cut 0) the raw input goes up and nothing comes
    back. Returns the loss where the server is played, else None."""
    h = act = None
    if tx.here(dev):
        if has_head:
            with tx.compute(dev, dev, "device"):
                opt_zero(opt_dev)
                h = head(x)
            act = h.detach()
        else:
            act = x
    act, y = tx.move([act, y] if tx.here(dev) else None, dev, srv, link, True, dev, "uplink") or (None, None)
    loss = grad = None
    if tx.here(srv):
        act = act.detach().requires_grad_(has_head)
        with tx.compute(srv, dev, srv_phase, alpha):
            for o in opt_srv:
                opt_zero(o)
            out = LOSS(tail(act), y.long())
            out.backward()
            for o in opt_srv:
                opt_step(o)
        loss, grad = float(out.detach()), act.grad
    if has_head:
        got = tx.move([grad] if tx.here(srv) else None, srv, dev, link, False, dev, "downlink")
        if tx.here(dev):
            with tx.compute(dev, dev, "device"):
                if h.requires_grad:        # a head without parameters (a user's model's transpose) trains nothing
                    h.backward(got[0])
                opt_step(opt_dev)
    return loss


class Engine:
    """A paradigm's round as one program over all its nodes (see validation.transport)."""
    paradigm = ""
    # the optimizer state of the model's parameters carries from round to round (pel's workers
    # start each round's block with a fresh one: its run on one worker's data resets it too)
    keeps_optimizer = True

    def __init__(self, job: Job):
        self.job, self.cm, self.d = job, job.cm, job.decisions
        self.round_no = 0
        self.streams = NodeStreams(job.seed)       # each node's random draws (dropout): see node_random
        self.build()

    def build(self):
        raise NotImplementedError

    def round(self, tx) -> list:
        """Run one round through transport `tx`; returns the training losses computed here
        (None where a step's loss was computed elsewhere)."""
        raise NotImplementedError

    def play(self, tx) -> list:
        losses = self.round(OnNodeStreams(tx, self.streams))
        self.round_no += 1
        return losses

    def record(self, meter: RoundMeter, losses: list) -> tuple[dict, list, list]:
        """The round as measured: its row (latency, energy, bytes through the cost model's own
        ledger, accuracy of the model now), per-node rows and the timeline."""
        T = self.latency(meter)
        costs = meter.costs(self.paradigm, self.devices, T)
        acc, test_loss = self.evaluate()
        ls = [x for x in losses if x is not None]
        row = {"train_loss": float(np.mean(ls)) if ls else float("nan"), "test_loss": test_loss,
               "test_accuracy": acc, "round_latency_s": T, "energy_j": costs.energy,
               "device_energy_j": costs.device_energy, "comm_bytes": costs.comm_bytes}
        return row, costs.nodes.reset_index().to_dict("records"), [e.__dict__ for e in meter.events]

    def merge_losses(self, per_rank: list[list]) -> list:
        """The round's losses from every rank's list (each rank's own, in rank order)."""
        return [x for ls in per_rank for x in ls]

    def latency(self, meter: RoundMeter) -> float:
        """The round's latency from its metered events, assembled as the cost model assembles
        its prediction: the slowest device's timeline for the parallel paradigms."""
        return max(meter.device_time(d) for d in self.timeline)

    @property
    def timeline(self) -> list[str]:
        """The devices whose timelines make the round."""
        return self.devices

    def begin_round(self) -> None:
        """Before a round: with `training.client_state: reset` (FedAvg as published) each client
        starts the round with a fresh optimizer state."""

    @property
    def reset_clients(self) -> bool:
        return self.job.spec.training.client_state == "reset"

    def data(self, tx, dev: str):
        """A training batch where `dev` is played (its shard advances only there), its labels of
        model.label_bytes each (they may travel with the activations; the loss takes them back
        as int64)."""
        if not tx.here(dev):
            return None, None
        x, y = self.job.shards[dev].next(self.job.batch(dev))
        return x, y.to(LABEL_DTYPES[self.job.spec.model.label_bytes])

    def evaluate(self) -> tuple[float, float]:
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    def optimizers(self) -> dict:
        raise NotImplementedError

    def state(self) -> dict:
        """The parts, their optimizers and torch's random states, global and each node's (dropout
        draws from them: without them a resumed run of a model with dropout would train on other
        masks than the run it continues)."""
        return {"modules": {k: m.state_dict() for k, m in self.modules().items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers().items() if o is not None},
                "round_no": self.round_no, "rng": torch.get_rng_state(), "rng_nodes": dict(self.streams.states)}

    def load(self, s: dict) -> None:
        for k, m in self.modules().items():
            m.load_state_dict(s["modules"][k])
        for k, o in self.optimizers().items():
            if o is not None and k in s["optimizers"]:
                o.load_state_dict(s["optimizers"][k])
        self.round_no = int(s.get("round_no", 0))
        if "rng" in s:                   # (states written before it was kept have none)
            torch.set_rng_state(s["rng"])
        self.streams.states = dict(s.get("rng_nodes", {}))

    def units(self):
        """A fresh model of the scenario (seeded) traced into the plan's units."""
        return unit_modules(self.job.model(), self.job)

    def weights(self, devices) -> np.ndarray:
        return np.array([len(self.job.shards[d].idx) for d in devices], float)


def sgd_steps(model: nn.Module, opt, batches) -> None:
    """The whole model trained by SGD, one step per (x, y) batch drawn from `batches`."""
    for x, y in batches:
        opt.zero_grad(set_to_none=True)
        LOSS(model(x), y).backward()
        opt.step()


def train_centralized(job: Job, steps: int) -> tuple[float, float, float]:
    """The whole model trained by SGD on the devices' batches in split learning's order (each
    device in turn for its local iterations, then the next), `steps` batches: the reference for
    accuracy (sl equals it exactly) and for the overhead of partitioned training.
    Returns (test accuracy, test loss, wall seconds)."""
    import time
    model = job.model()
    opt = job.optimizer(model.parameters())
    devices = list(job.shards)
    shards = {d: Shard(job.ds, s.idx, s.seed) for d, s in job.shards.items()}   # fresh: the same draws
    order = [devices[(k // job.cm.tau) % len(devices)] for k in range(steps)]
    with one_torch_thread():            # as the partitioned runs: one thread, comparable times
        t0 = time.perf_counter()
        sgd_steps(model, opt, (shards[d].next(job.batch(d)) for d in order))
        wall = time.perf_counter() - t0
    acc, loss = accuracy(model, job.ds)
    return acc, loss, wall


def train_pooled(job: Job, rounds: int, on_round=None, state=None, key: str = "",
                 devices: list[str] | None = None, fresh_optimizer: bool = False) -> list[tuple[float, float]]:
    """The whole model trained by SGD on the devices' pooled samples, shuffled: each round as many
    batches, of the same sizes, as the devices take together in one (calibration's centralised
    reference run). Test accuracy and loss after every round. With `state` (a file), the run is
    kept there after every round and goes on from it: an interrupted reference run (the longest
    part of a calibration) resumes where it stopped, and a longer one continues a shorter one. A
    state saved under another `key` (another scenario) is not this run's: it starts afresh. Only
    the `devices`' samples, where given (pel's active workers: the data that trains); with
    `fresh_optimizer`, a fresh optimizer state every round (as pel's workers)."""
    from .checkpoints import load_checkpoint, save_checkpoint
    devices = list(devices or job.shards)
    pooled = Shard(job.ds, np.unique(np.concatenate([job.shards[d].idx for d in devices])), job.seed * 1000 + 999)
    batches = [job.batch(d) for d in devices for _ in range(job.cm.tau)]
    model = job.model()
    opt = job.optimizer(model.parameters())
    evals = []
    if state is not None and state.exists():
        saved = load_checkpoint(state)
        if saved.get("key") == key:
            model.load_state_dict(saved["engine"]["model"])
            opt.load_state_dict(saved["engine"]["optimizer"])
            torch.set_rng_state(saved["engine"]["rng"])
            pooled.load(saved["shards"]["pooled"])
            evals = [tuple(e) for e in saved["evals"]]
    for _ in range(min(len(evals), rounds)):
        if on_round is not None:
            on_round()
    with one_torch_thread():
        while len(evals) < rounds:
            if fresh_optimizer:
                opt = job.optimizer(model.parameters())
            sgd_steps(model, opt, (pooled.next(b) for b in batches))
            evals.append(accuracy(model, job.ds))
            if state is not None:
                save_checkpoint(state, {"key": key, "evals": [list(e) for e in evals],
                                        "engine": {"model": model.state_dict(), "optimizer": opt.state_dict(),
                                                   "rng": torch.get_rng_state()},
                                        "shards": {"pooled": pooled.state()}})
            if on_round is not None:
                on_round()
    return evals[:rounds]
