"""The fuzzer at scale: mutated copies of every shipped scenario through `check` and `plan`,
corrupted plans through `evaluate` and `validate`, and every command with one option set to an
odd value (negative, zero, huge, infinite, not a number), all in this process through the CLI.

    python benchmarks/bench_fuzz.py [--quick] [N]

Prints the counts (issue "Reliability and security"): target 0 internal errors, 0 runs over 10 s
on shipped-size scenarios. N mutations of scenarios and N of plans (default 10,000 each; --quick
300).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, quick

sys.path.insert(0, str(ROOT))
from tests.fuzzing import Tally, option_cases, plan_cases, run_cli, scenario_cases, shipped  # noqa: E402

PARADIGMS = ("fl", "sl", "psl", "dsgd", "fpl", "pel")
FAST = {"psl": "exact", "fpl": "exact", "pel": "joint", "dsgd": "exact", "fl": "exact", "sl": "exact"}
TRAINABLE = ("digits-small.yaml", "mnist1d-small.yaml")


def _why(msg: str) -> str:
    lines = [ln for ln in msg.splitlines() if "internal error" in ln or "Error" in ln]
    return (lines[0] if lines else msg.strip().splitlines()[-1] if msg.strip() else "")[:300]


def main():
    n = 300 if quick() else int(next((a for a in sys.argv[1:] if a.isdigit()), 10_000))
    tmp = Path(tempfile.mkdtemp(prefix="edgeplan-fuzz-"))
    rng = random.Random(0)
    t0 = time.perf_counter()
    scen = Tally()
    for k, (base, f) in enumerate(scenario_cases(n, 1, tmp)):
        code, out, s = run_cli(["check", str(f)])
        scen.add(f"check {base.name} #{k}", code, out, s)
        if code == 0:
            p = rng.choice(PARADIGMS)
            code, out, s = run_cli(["plan", str(f), "-p", p, "--solver", FAST[p]])
            scen.add(f"plan -p {p} {base.name} #{k}", code, out, s)
        if k % 500 == 0:
            print(f"  scenarios {k}/{n}: {scen.line()} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("scenario mutations:", scen.line())
    for what, code, msg in scen.internal[:60]:
        print(f"  INTERNAL {what} (exit {code}): {_why(msg)}")
    for what, secs in scen.slow[:10]:
        print(f"  SLOW {what}: {secs:.1f} s")

    plans = []
    for path in shipped():
        for p in PARADIGMS:
            out = tmp / f"{path.stem}-{p}.json"
            code, _, _ = run_cli(["plan", str(path), "-p", p, "--solver", FAST[p], "--out", str(out)])
            if code == 0:
                plans.append((path, out))
    ev = Tally()
    for k, (scn, f) in enumerate(plan_cases(n, 2, plans, tmp)):
        code, out, s = run_cli(["evaluate", str(scn), str(f)])
        ev.add(f"evaluate {f.name} on {scn.name}", code, out, s)
        if scn.name in TRAINABLE and k % 5 == 0:
            code, out, s = run_cli(["validate", str(scn), str(f), "--rounds", "1", "--format", "json"])
            ev.add(f"validate {f.name} on {scn.name}", code, out, s, slow_after=60.0)
        if k % 500 == 0:
            print(f"  plans {k}/{n}: {ev.line()} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("plan corruptions (evaluate, and validate on the trainable scenarios):", ev.line())
    for what, code, msg in ev.internal[:200]:
        print(f"  INTERNAL {what} (exit {code}): {_why(msg)}")
    for what, secs in ev.slow[:10]:
        print(f"  SLOW {what}: {secs:.1f} s")

    opt = Tally()
    for args in option_cases(tmp):
        code, out, s = run_cli(args)
        opt.add(" ".join(args), code, out, s, slow_after=60.0 if args[0] in ("validate", "calibrate") else 10.0)
    print("odd option values (every command):", opt.line())
    for what, code, msg in opt.internal[:60]:
        print(f"  INTERNAL {what} (exit {code}): {_why(msg)}")
    for what, secs in opt.slow[:10]:
        print(f"  SLOW {what}: {secs:.1f} s")


if __name__ == "__main__":
    main()
