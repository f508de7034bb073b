"""What the two transports cost: fl with six clients on digits, 30 rounds, as whole processes.

    python benchmarks/bench_transport.py [--quick] [--runs N]

Three commands, run in turn (A B C A B C ...) so that the machine's drift hits all alike, each
timed from outside (wall clock; CPU from the kernel's accounting of the finished children):
- plain: a plain torch FedAvg loop doing the same training (the same model, shards, batches,
  local steps, a test every round), nothing metered;
- in-process: `edgeplan validate` (the Local transport);
- distributed: `edgeplan validate --executor distributed` (the Gloo transport, 7 processes).

Targets (issue 19): in-process CPU within 1.25x of the plain loop; distributed wall within 2x
of in-process. The ratios are taken pair by pair and their median printed.
"""

from __future__ import annotations

import copy
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import SCENARIOS, quick

ROUNDS = 30


def six_clients(where: Path) -> tuple[Path, Path]:
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["nodes"][1]["count"] = 5                    # five boards and the phone
    data["nodes"][1]["samples"] = 240
    scn = where / "six.yaml"
    scn.write_text(yaml.safe_dump(data))
    plan = where / "fl.json"
    subprocess.run([sys.executable, "-m", "edgeplan.cli", "plan", str(scn), "-p", "fl", "--out", str(plan)],
                   check=True, capture_output=True)
    return scn, plan


def plain(scenario: str, rounds: int) -> None:
    """FedAvg as published, by hand: each client from the global model with a fresh SGD, tau
    local steps on its shard, the server's sample-weighted average, a test every round."""
    import numpy as np
    import torch
    from edgeplan.models.registry import sample_shape
    from edgeplan.models.zoo import build
    from edgeplan.scenario import load_scenario
    from edgeplan.validation.data import load, split_across
    from edgeplan.validation.engine import Shard

    torch.set_num_threads(1)
    scn = load_scenario(scenario)
    tr, m = scn.spec.training, scn.spec.model
    ds = load(tr.dataset, sample_shape(m), m.num_classes, tr.seed, scn.base_dir)
    devices = [n for n in scn.nodes.index if scn.nodes.loc[n, "role"] == "device"]
    sizes = [int(scn.nodes.loc[d, "samples"]) for d in devices]
    shards = [Shard(ds, ix, tr.seed * 1000 + k) for k, ix in enumerate(split_across(ds.y_train, sizes, tr.iid,
                                                                                    tr.dirichlet_alpha, tr.seed))]
    torch.manual_seed(tr.seed)
    model = build(m.zoo, m.input_shape, m.num_classes)
    w = torch.tensor(np.array(sizes, float) / sum(sizes), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss()
    for _ in range(rounds):
        states = []
        for shard in shards:
            local = copy.deepcopy(model)
            opt = torch.optim.SGD(local.parameters(), lr=tr.learning_rate, momentum=0.9)
            for _ in range(tr.local_iterations):
                x, y = shard.next(tr.batch_size)
                opt.zero_grad(set_to_none=True)
                loss_fn(local(x), y).backward()
                opt.step()
            states.append(local.state_dict())
        model.load_state_dict({k: sum(wi * s[k] for wi, s in zip(w, states)) for k in states[0]})
        with torch.no_grad():
            acc = float((model(ds.x_test).argmax(1) == ds.y_test).float().mean())
    print(f"plain FedAvg: accuracy {acc:.3f}")


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall s, CPU s of the command and everything it waited for)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else (2 if quick() else 5)
    where = Path(tempfile.mkdtemp())
    scn, plan = six_clients(where)
    cmds = {"plain": [sys.executable, __file__, "plain", str(scn)],
            "in-process": [sys.executable, "-m", "edgeplan.cli", "validate", str(scn), str(plan), "--rounds",
                           str(ROUNDS)],
            "distributed": [sys.executable, "-m", "edgeplan.cli", "validate", str(scn), str(plan), "--rounds",
                            str(ROUNDS), "--executor", "distributed"]}
    got = {k: [] for k in cmds}
    for r in range(runs):
        for k, cmd in cmds.items():
            got[k].append(run(cmd))
        print(f"  run {r + 1}/{runs}: " + ", ".join(f"{k} {v[-1][0]:.1f} s" for k, v in got.items()), flush=True)
    med = statistics.median
    print(f"\n## fl, six clients on digits, {ROUNDS} rounds, whole processes ({runs} runs in turn; median)\n")
    print(f"{'command':<12} {'wall s':>8} {'CPU s':>8}")
    for k, v in got.items():
        print(f"{k:<12} {med(w for w, _ in v):8.2f} {med(c for _, c in v):8.2f}")
    ratio = lambda a, b, i: med(x[i] / y[i] for x, y in zip(got[a], got[b]))  # noqa: E731
    print(f"\nin-process / plain, CPU: {ratio('in-process', 'plain', 1):.2f}x (target at most 1.25x)")
    print(f"in-process / plain, wall: {ratio('in-process', 'plain', 0):.2f}x")
    print(f"distributed / in-process, wall: {ratio('distributed', 'in-process', 0):.2f}x (target at most 2x)")
    print("(the distributed CPU is not comparable here: its nodes are children of a fork server)")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if len(sys.argv) > 2 and sys.argv[1] == "plain":
        plain(sys.argv[2], ROUNDS)
    else:
        main()
