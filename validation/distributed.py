"""The distributed executor: one process per node, tensors really sent over torch.distributed.

Ranks: 0 is the server (for fpl the trunk node; it also aggregates, meters and checkpoints),
1..N the plan's devices in order. For dsgd, rank 0 is the device holding the data and ranks
1..K the other nodes holding stages, in path order: micro-batches flow forward stage to stage
and gradients back (GPipe order). Each process rebuilds the same job (scenario, plan, data,
seed) and its own part of the model, so the run is the in-process run, split across processes.

Every tensor goes as a small header (the sender's send time, the shape) and a payload. Payload
bytes are what the cost model predicts; headers are framing (counted apart). Compute is timed in
each process (one torch thread) and converted to the node's speed as in-process. Transfer times
come from the payload bytes at the plan's rates, or, on shaped links (`shaped=True`: each device
in its own network namespace behind a `tc` rate limit equal to its allocated rate; for dsgd every
node, each hop limited both ways, netns.ShapedNetwork.for_pairs), from the header's send time to
the end of the receive.

Faults: the parent watches every process; one that exits, or a round that makes no progress for
`timeout` seconds, ends the run with an error naming the node; the rounds finished before are on
disk (checkpoint after every round), and a run resumes from them.

Across real machines the same code runs under torchrun: set MASTER_ADDR/MASTER_PORT, RANK and
WORLD_SIZE and start `python -m validation.distributed JOB.json` on each machine (see README).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue as queue_mod
import socket
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from edgeplan.models.profile import one_torch_thread

from .checkpoints import Record, clear_states, load_state, run_identity, save_state
from .meters import RoundMeter
from .transport import Gloo, Wire, wire_dtype

SUPPORTED = ("fl", "sl", "psl", "fpl", "pel", "dsgd")


class WorkerFailed(RuntimeError):
    """A node's process died or hung; the message names it."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- per-process programs

def _node(rank: int, world: int, cfg: dict, q, token=None, beats=None) -> None:
    """Entry point of every node process. `token`: a lock shared by processes on one host, held
    while a node computes, so nodes that share this host's cores are timed one at a time (CPU
    time of processes contending for 2 cores ran 15-20% above the same work alone). `beats`:
    shared memory where each node writes when it was last alive."""
    torch.set_num_threads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _die_with_parent(cfg.get("parent"))
    try:
        if cfg.get("netns") and cfg["netns"][rank]:
            from .netns import enter
            enter(cfg["netns"][rank])          # before any socket: gloo's threads inherit it
        if cfg.get("ifname"):
            os.environ["GLOO_SOCKET_IFNAME"] = cfg["ifname"][rank]
        # gloo waits longer than the parent, so the parent names a hung node before gloo gives up
        dist.init_process_group("gloo", rank=rank, world_size=world, init_method=cfg["init"],
                                timeout=timedelta(seconds=3 * cfg["timeout"]))
        prog = _Program(rank, cfg, q, token, beats)
        prog.run()
        dist.barrier()
        dist.destroy_process_group()
    except Exception as e:  # report and exit non-zero: the parent names this node
        q.put(("error", rank, f"{type(e).__name__}: {e}", traceback.format_exc()))
        sys.exit(1)


def _die_with_parent(parent: int | None) -> None:
    """A node process ends when its launcher does, however the launcher ends (SIGKILL included).
    Nodes are forked by multiprocessing's fork server, which exits when the launcher does; the
    kernel then sends the node SIGKILL (Linux prctl PR_SET_PDEATHSIG), and a launcher already
    gone by then is noticed at once. Orphans would train on and overwrite the checkpoints a
    resume needs."""
    if parent is None:
        return
    from .forkserver_guard import die_with_parent
    die_with_parent()
    if not _alive(parent):
        os._exit(1)


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed launcher not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:                  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False


# what every node imports, loaded once in the fork server rather than once per node (about 6 s
# each here: torch, the planner, scikit-learn for the digits, and torch._dynamo, which tracing a
# model into units imports on first use)
PRELOAD = ["torch", "torch.distributed", "torch._dynamo", "torch.fx.passes.shape_prop", "sklearn.datasets",
           "edgeplan.scenario", "edgeplan.planfile", "edgeplan.evaluation", "edgeplan.validation.engines",
           "edgeplan.validation.runner", "edgeplan.validation.distributed", "edgeplan.validation.forkserver_guard"]


def _context():
    """Node processes from a fork server that has imported what nodes need: fork's cheap start
    without forking this process's threads (a launcher that has run torch holds a thread pool).
    Spawn where there is no fork server."""
    try:
        ctx = mp.get_context("forkserver")
    except ValueError:
        return mp.get_context("spawn")
    ctx.set_forkserver_preload(PRELOAD)
    from multiprocessing import forkserver
    forkserver.ensure_running()         # its imports overlap with the launcher's own preparation
    return ctx


def placement(paradigm: str, decisions: dict) -> dict[str, int]:
    """Which rank plays which node. dsgd: the source is rank 0, the other stage nodes (replicas
    too) 1..K in path order; otherwise the devices are ranks 1..N and every other node (servers, the trunk)
    rank 0, the hub, which also tests the model and assembles the round."""
    if paradigm == "dsgd":
        groups = decisions.get("replicas") or [[n] for n, _, _ in decisions["stages"]]
        others = dict.fromkeys(n for g in groups for n in g if n != decisions["source"])
        return {decisions["source"]: 0, **{n: k + 1 for k, n in enumerate(others)}}
    return {d: k + 1 for k, d in enumerate(decisions["devices"])}


class _Program:
    """One node process: the same job and engine as every other, playing its own nodes."""

    def __init__(self, rank: int, cfg: dict, q, token=None, beats=None):
        from edgeplan.planfile import Plan
        from edgeplan.scenario import load_scenario

        from .engines import ENGINES
        from .runner import make_job

        self.rank, self.cfg, self.q, self.beats = rank, cfg, q, beats
        self.token = token if token is not None else contextlib.nullcontext()
        self.scn = load_scenario(cfg["scenario"])
        self.plan = Plan.from_dict(cfg["plan"])
        self.job, self.cm, _ = make_job(self.scn, self.plan, cfg["seed"])
        self.engine = ENGINES[self.plan.paradigm](self.job)   # the same initial parts everywhere
        self.placement = placement(self.plan.paradigm, self.job.decisions)
        lat = cfg.get("latency")        # shaped links: each message sleeps the route's latency first
        self.wire = Wire(latency=dict(lat[rank])) if lat else Wire()
        self.evalwire = Wire()    # what only the accuracy test needs (not part of the plan's traffic)
        self.out = Path(cfg["out"]) if cfg.get("out") else None
        self.kill = cfg.get("kill")   # fault injection for tests: {"rank": r, "round": k}

    def beat(self) -> None:
        """Tell the parent this node is alive: a write to shared memory. (A message per beat woke
        the queue's feeder thread and the parent hundreds of times a second, and on 2 cores
        those wake-ups preempted the nodes' timed compute: on psl 1.3 involuntary switches per
        device block, 0.7 with shared memory.)"""
        if self.beats is not None:
            self.beats[self.rank] = time.monotonic()

    # -- state of this process, saved each round (resume)
    def _save(self, r: int) -> None:
        if self.out is not None:
            save_state(self.out, self.rank, r, self.plan, self.engine, self.job.shards)

    def _load(self) -> int:
        target = self.cfg.get("resume_round")
        if self.out is None or not target:
            return 0
        load_state(self.out, self.rank, target, self.engine, self.job.shards)
        return target

    def _warm_up(self) -> None:
        """Untimed training steps of a throwaway copy of the whole model, which also calibrate
        this process: the first call of each kernel in a fresh process (allocator, oneDNN
        primitives) must not land in round 1. The random state is left as it was, so training
        is unchanged. Processes on one host ran 20-30% apart in speed (placement, caches), so
        each converts its own CPU seconds by its own rate."""
        from .runner import _calibrate
        with self.token:                 # (_calibrate forks torch's random state itself)
            self.rate = _calibrate(self.job, self.cm)

    def run(self):
        from .engine import LOSS
        from .rewarm import Rewarm
        self._warm_up()
        from .runner import wire_bytes
        rewarm = Rewarm([*self.engine.modules().values(), LOSS], self.job.optimizer)
        wire = wire_dtype(wire_bytes(self.scn, self.plan.paradigm))
        t = torch.tensor([self._load()])
        dist.all_reduce(t, op=dist.ReduceOp.MIN)      # every node resumes from the same round
        for r in range(int(t), self.cfg["rounds"]):
            self.beat()
            if self.kill and self.kill["rank"] == self.rank and self.kill["round"] == r + 1:
                if self.kill.get("hang"):
                    time.sleep(10 ** 6)                # a worker hangs mid-run
                os._exit(17)                           # a worker dies mid-run
            meter = RoundMeter(self.cm, self.rate)
            tx = Gloo(meter, self.rank, self.placement, self.wire, self.evalwire, self.cfg.get("shaped", False),
                      self.token, self.beat, rewarm, wire)
            losses = self.engine.play(tx)
            self._report(r, meter, losses)
            if self.cfg.get("parent") and not _alive(self.cfg["parent"]):
                os._exit(1)                            # never save past the launcher's record
            self._save(r + 1)

    def _report(self, r: int, meter, losses: list) -> None:
        """Every rank's meter and losses to rank 0, which assembles the round as in-process."""
        mine = (meter.events, meter.busy, meter.wire, losses, self.wire.payload, self.wire.framing)
        everyone = [None] * dist.get_world_size() if self.rank == 0 else None
        dist.gather_object(mine, everyone, dst=0)
        self.wire.payload = self.wire.framing = 0
        if self.rank != 0:
            return
        total = RoundMeter(self.cm, self.rate)
        payload, framing = 0, 0
        for events, busy, wire, ls, pb, fb in everyone:
            total.merge(events, busy, wire)
            payload, framing = payload + pb, framing + fb
        row, nodes, events = self.engine.record(total, self.engine.merge_losses([e[3] for e in everyone]))
        row.update(payload_bytes=int(payload), framing_bytes=int(framing),
                   evaluation_bytes=int(self.evalwire.payload))
        self.evalwire.payload = self.evalwire.framing = 0
        self.q.put(("round", r + 1, row, nodes, events))


# ---------------------------------------------------------------- the parent

def _silent_death(procs, q, reported: set, grace: float = 5.0) -> int | None:
    """The rank of a process that exited non-zero without reporting an error (killed, crashed),
    waiting up to `grace` seconds for the others to notice and exit."""
    end = time.monotonic() + grace
    while time.monotonic() < end:
        try:
            while True:
                m = q.get_nowait()
                if m[0] == "error":
                    reported.add(m[1])
        except queue_mod.Empty:
            pass
        for rank, p in enumerate(procs):
            if p.exitcode is not None and p.exitcode != 0 and rank not in reported:
                return rank
        if all(p.exitcode is not None for p in procs):
            return None
        time.sleep(0.1)
    return None


def run_distributed(scenario_path: str, plan, rounds: int | None = None, out_dir=None, resume: bool = False,
                    progress: bool = False, seed: int | None = None, timeout: float = 120.0,
                    kill: dict | None = None, shaped: bool = False):
    """Run a plan of any paradigm with one process per node; returns a runner.RunResult."""
    import pandas as pd
    from edgeplan.errors import PlanError
    from edgeplan.progress import Bar
    from edgeplan.scenario import load_scenario

    from .runner import Predictions, RunResult, _calibrate, make_job, run_extra

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")   # idle workers must not spin on the 2 cores
    os.environ.setdefault("TORCH_CPP_LOG_LEVEL", "ERROR")  # gloo's notes (unnamed hosts in a namespace)
    ctx = _context()                                      # (before the fork server starts: it keeps this env)
    if plan.paradigm not in SUPPORTED:
        raise PlanError(f"the distributed executor runs {', '.join(SUPPORTED)}; run {plan.paradigm} with "
                        "--executor inprocess")
    scn = load_scenario(scenario_path)
    job, cm, _ = make_job(scn, plan, seed)
    plan = job.plan
    rounds = rounds or scn.spec.training.rounds
    predictions = Predictions(scn, job)
    with one_torch_thread():
        host_rate = _calibrate(job, cm)
    ranks = placement(plan.paradigm, job.decisions)
    world = 1 + max(ranks.values(), default=0)
    out = Path(out_dir) if out_dir else None
    record = Record(out, host_rate)                # calibrated afresh: a resumed run converts at today's rate
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        if resume:
            record.resume(plan, world, run_identity(job))
        else:
            clear_states(out)
    placed = sorted(ranks, key=ranks.get)          # rank order; the hub first
    if plan.paradigm == "dsgd":
        names = [f"source {placed[0]}"] + [f"stage node {n}" for n in placed[1:]]
    else:
        top = plan.paradigm_detail.get("server") or plan.paradigm_detail.get("trunk") or "server"
        names = [f"{'trunk' if plan.paradigm == 'fpl' else 'server'} {top}"] + [f"device {d}" for d in placed]
    net = None
    cfg = {"scenario": str(Path(scenario_path).resolve()), "plan": plan.to_dict(), "rounds": rounds,
           "seed": job.seed, "out": str(out) if out else None, "resume": resume, "timeout": timeout,
           "host_rate": host_rate, "kill": kill, "shaped": shaped, "parent": os.getpid(),
           "resume_round": len(record.rows) if resume else 0}
    if shaped:
        from .netns import ShapedNetwork
        if plan.paradigm == "dsgd":
            from edgeplan.dsgd_costs import dsgd_hops
            net = ShapedNetwork.for_pairs(cm, ranks, dsgd_hops(cm, job.decisions))
        else:
            net = ShapedNetwork.for_plan(cm, plan, job.decisions)
        cfg.update(net.config())
    else:
        cfg["init"] = f"tcp://127.0.0.1:{_free_port()}"
    q = ctx.Queue()
    token = ctx.Lock()   # every node on this host: computed one at a time (see _node)
    beats = ctx.Array("d", world, lock=False)     # each node's last sign of life (time.monotonic)
    procs = []
    bar = Bar(progress, rounds, done=len(record.rows), text="training", width=44)
    events = []
    try:
        for rank in range(world):
            p = ctx.Process(target=_node, args=(rank, world, cfg, q, token, beats), daemon=True, name=names[rank])
            p.start()
            procs.append(p)
        done = len(record.rows)
        last = time.monotonic()
        alive = set()          # ranks that have started (imported torch, joined the group)
        startup = max(timeout, 180.0)
        while done < rounds:
            try:
                msg = q.get(timeout=0.5)
            except queue_mod.Empty:
                msg = None
            if len(alive) < world:
                alive = {r for r in range(world) if beats[r] > 0}
                if len(alive) == world:          # everybody is up: the progress clock starts now
                    last = time.monotonic()
            if msg is not None and msg[0] == "round":
                _, r, row, nodes, events = msg
                record.add(r, predictions.add(row, r), nodes)
                done, last = r, time.monotonic()
                bar.update(done, f"round {r}/{rounds}: acc {row['test_accuracy']:.3f}")
                continue
            saved = (f"; rounds 1..{done} are saved" + (f" in {out}" if out else "")) if done else \
                "; no round had finished"
            if msg is not None and msg[0] == "error":
                # a peer's broken connection is a symptom: blame a node that died without a word
                _, rank, text, tb = msg
                dead = _silent_death(procs, q, {rank})
                if dead is not None:
                    raise WorkerFailed(f"{names[dead]} (rank {dead}) died (exit code {procs[dead].exitcode}) in "
                                       f"round {done + 1}{saved}")
                raise WorkerFailed(f"{names[rank]} (rank {rank}) failed in round {done + 1}: {text}{saved}")
            for rank, p in enumerate(procs):
                if p.exitcode is not None and p.exitcode != 0:
                    raise WorkerFailed(f"{names[rank]} (rank {rank}) died (exit code {p.exitcode}) in round "
                                       f"{done + 1}{saved}")
            if len(alive) < world and time.monotonic() - last > startup:
                late = min(set(range(world)) - alive)
                raise WorkerFailed(f"{names[late]} (rank {late}) did not start within {startup:.0f} s{saved}")
            if len(alive) == world and time.monotonic() - last > timeout:
                # the node silent the longest is the one holding everybody up
                quiet = min((r for r in range(world) if procs[r].is_alive()), key=lambda r: beats[r])
                raise WorkerFailed(f"{names[quiet]} (rank {quiet}) hung: no progress for {timeout:.0f} s in round "
                                   f"{done + 1}{saved}")
        for p in procs:
            p.join(timeout=timeout)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        bar.close()
        if net is not None:
            net.close()
    rows = record.rows
    return RunResult(plan, pd.DataFrame(rows), pd.DataFrame(record.nodes), events, host_rate,
                     "distributed" + (" (shaped)" if shaped else ""),
                     {"framing_bytes": int(sum(r.get("framing_bytes", 0) for r in rows)), **run_extra(scn, job)})


if __name__ == "__main__":   # torchrun / manual start on real machines: python -m validation.distributed JOB.json
    cfg = json.loads(Path(sys.argv[1]).read_text())
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    cfg.setdefault("init", "env://")

    class _Print:
        def put(self, m):
            print(json.dumps(m[:3], default=float), flush=True)
    _node(rank, world, cfg, _Print())
