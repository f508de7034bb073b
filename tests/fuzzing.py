"""Mutations of the shipped scenarios and of plans made from them, run through the CLI in this
process: every outcome must be success (0), bad input (2) or infeasible (3), never an internal
error (1), a hang or unbounded memory. Shared by tests/test_fuzz.py (a quick sample) and
benchmarks/bench_fuzz.py (at least 10,000 mutations of every shipped scenario and plan).
"""

from __future__ import annotations

import copy
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"

EXTREMES = [None, True, False, 0, -1, 1, 2 ** 63, -(2 ** 63), 1e308, -1e308, 1e-400, float("nan"), "", "3", "-3 GHz",
            "12 parsecs", "1e400", "5000 dBm", "1e-400 W", "\ud800", "x" * 100_000, [], [1, 2], {}, {"x": 1},
            "0 s", "-0.0", "nan", "inf MHz", "2**63"]


def shipped() -> list[Path]:
    return sorted(SCENARIOS.glob("*.yaml"))


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def mutate_data(data, rng: random.Random):
    """One structural or value mutation of parsed data (scenario or plan)."""
    data = copy.deepcopy(data)
    paths = [p for p in _paths(data) if p]
    if not paths:
        return rng.choice(EXTREMES)
    path = rng.choice(paths)
    parent = _get(data, path[:-1])
    key = path[-1]
    op = rng.choice(["drop", "swap", "swap", "garble", "scale", "nest", "dup"])
    v = parent[key]
    if op == "drop":
        parent.pop(key) if isinstance(parent, dict) else parent.pop(key)
    elif op == "swap":
        parent[key] = rng.choice(EXTREMES)
    elif op == "garble":
        parent[key] = (str(v) + rng.choice(["x", " ", "\x00", "é", "\ud800"])) if not isinstance(v, str) else \
            (v[::-1] + "?")
    elif op == "scale" and isinstance(v, (int, float)) and not isinstance(v, bool):
        parent[key] = v * rng.choice([0, -1, 1e3, 1e9, 1e300, 1e-300])
    elif op == "nest":
        parent[key] = [[[[[[v]]]]]]
    elif op == "dup" and isinstance(parent, list):
        parent.append(copy.deepcopy(v))
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """A textual mutation: truncation, a flipped character, deep nesting, an alias bomb."""
    op = rng.choice(["truncate", "flip", "deep", "bomb", "tab", "nul"])
    if op == "truncate":
        return text[: rng.randrange(len(text) + 1)]
    if op == "flip":
        i = rng.randrange(len(text))
        return text[:i] + rng.choice(["{", "}", "[", "]", ":", "&a ", "*a", "!!python/object:os.system ", "\t"]) + text[i:]
    if op == "deep":
        depth = rng.choice([100, 500, 5000])
        return text + "\nextra: " + "[" * depth + "]" * depth + "\n"
    if op == "bomb":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
        for k in range(1, 10):
            lines.append(f"a{k}: &a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]")
        return "\n".join(lines) + "\n" + text
    if op == "tab":
        return text.replace("  ", "\t", 1)
    return text.replace(":", ":\x00", 1)


@dataclass
class Tally:
    ok: int = 0
    bad_input: int = 0
    infeasible: int = 0
    internal: list = field(default_factory=list)     # (what, exit code, message)
    slow: list = field(default_factory=list)         # (what, seconds)
    runs: int = 0

    def add(self, what: str, code: int, output: str, seconds: float, slow_after: float = 10.0):
        self.runs += 1
        if code == 0:
            self.ok += 1
        elif code == 2:
            self.bad_input += 1
        elif code == 3:
            self.infeasible += 1
        else:
            self.internal.append((what, code, output[-400:]))
        if seconds > slow_after:
            self.slow.append((what, seconds))

    def line(self) -> str:
        return (f"{self.runs} runs: {self.ok} ok, {self.bad_input} rejected as bad input, {self.infeasible} "
                f"infeasible, {len(self.internal)} internal errors, {len(self.slow)} over 10 s")


def run_cli(args: list[str]) -> tuple[int, str, float]:
    from edgeplan.cli import app
    from typer.testing import CliRunner
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, args)
    code = r.exit_code if not (r.exception and not isinstance(r.exception, SystemExit)) else 1
    out = r.output + (f"\n{type(r.exception).__name__}: {r.exception}" if code == 1 and r.exception else "")
    return code, out, time.perf_counter() - t0


def scenario_cases(n: int, seed: int, tmp: Path):
    """n mutated scenario files (a mix of data and text mutations of every shipped scenario)."""
    import shutil
    rng = random.Random(seed)
    bases = [(p, p.read_text()) for p in shipped()]
    if not (tmp / "profiles").exists():                # scenarios name their profiles relative to themselves
        shutil.copytree(SCENARIOS / "profiles", tmp / "profiles")
    for k in range(n):
        path, text = bases[k % len(bases)]
        if rng.random() < 0.75:
            data = yaml.safe_load(text)
            for _ in range(rng.choice([1, 1, 2, 3])):
                data = mutate_data(data, rng)
            try:
                out = yaml.safe_dump(data, allow_unicode=True)
            except yaml.YAMLError:
                out = json.dumps(data, default=str)
        else:
            out = mutate_text(text, rng)
        f = tmp / f"m{k}-{path.name}"
        f.write_text(out, encoding="utf-8", errors="surrogatepass")
        # keep relative files (profiles) resolvable
        yield path, f


def plan_cases(n: int, seed: int, plans: list[tuple[Path, Path]], tmp: Path):
    """n corrupted plan files made from real plans [(scenario, plan.json)]."""
    rng = random.Random(seed)
    for k in range(n):
        scn, plan = plans[k % len(plans)]
        text = plan.read_text()
        r = rng.random()
        f = tmp / f"p{k}.json"
        if r < 0.7:
            data = json.loads(text)
            for _ in range(rng.choice([1, 1, 2])):
                data = mutate_data(data, rng)
            f.write_text(json.dumps(data, allow_nan=True, default=str), encoding="utf-8", errors="surrogatepass")
        elif r < 0.8:
            other = plans[rng.randrange(len(plans))][1]
            data = json.loads(other.read_text())
            data["paradigm"] = json.loads(text)["paradigm"] if rng.random() < 0.5 else data["paradigm"]
            f.write_text(json.dumps(data))
            yield scn, f
            continue
        elif r < 0.9:
            f.write_bytes(text.encode()[: rng.randrange(len(text))] + bytes([rng.randrange(128, 256)]))
        else:
            f.write_text("[" * 10000 + "]" * 10000 if rng.random() < 0.5 else "{}")
        yield scn, f


ODD_OPTIONS = ["-1", "0", "1e400", "nan", "inf", "-inf", "1e-300", "abc", "", "3.5", "99999999999"]


def option_cases(tmp: Path, train: bool = True, values=ODD_OPTIONS):
    """Every command with one option or argument set to an odd value (negative, zero, huge, not a
    number, empty); `train=False` leaves out the commands that train. Option ranges are the
    command line's own input, checked as a scenario's fields are."""
    digits = str(SCENARIOS / "digits-small.yaml")
    plan = tmp / "option-fuzz-sl.json"
    if not plan.exists():
        run_cli(["plan", digits, "-p", "sl", "--out", str(plan)])
    cap = ["capacity", digits, "--vary"]
    table = [
        cap + ["channels.wlan.bandwidth", "-p", "fl", "--target", "round_latency_s={v}"],
        cap + ["channels.wlan.bandwidth", "-p", "fl", "--target", "round_latency_s=2", "--lo", "{v}"],
        cap + ["channels.wlan.bandwidth", "-p", "fl", "--target", "round_latency_s=2", "--hi", "{v}"],
        cap + ["training.batch_size", "-p", "sl", "--target", "round_latency_s=2", "--lo", "{v}", "--hi", "64"],
        cap + ["links.phone.gain_db", "-p", "fl", "--target", "round_latency_s=2", "--lo", "{v}", "--hi", "10"],
        ["sweep", digits, "-p", "fl", "--workers", "1", "--methods", "optimal", "--vary", "channels.wlan.bandwidth={v}"],
        ["sweep", digits, "-p", "fl", "--workers", "1", "--methods", "optimal", "--vary", "channels.wlan.bandwidth=1e6:{v}:3"],
        ["sweep", digits, "-p", "sl", "--workers", "1", "--methods", "optimal", "--vary", "training.batch_size={v}"],
        ["sweep", digits, "-p", "sl", "--workers", "1", "--methods", "optimal", "--vary", "nodes.pi.count={v}"],
        ["sweep", digits, "-p", "sl", "--workers", "1", "--methods", "optimal", "--vary", "objective={v}"],
        ["sweep", digits, "-p", "sl", "--workers", "{v}", "--methods", "optimal", "--vary", "training.batch_size=8"],
        ["pareto", digits, "-p", "psl", "--points", "{v}"],
        ["profile", "mlp", "--batch-size", "{v}"],
        ["profile", "mlp", "--input-shape", "{v}"],
        ["profile", "mlp", "--num-classes", "{v}"],
        ["plan", digits, "-p", "{v}"],
        ["compare", digits, "-p", "{v}"],
    ]
    if train:
        table += [["validate", digits, str(plan), "--rounds", "{v}"],
                  ["validate", digits, str(plan), "--rounds", "1", "--timeout", "{v}"],
                  ["calibrate", digits, "-p", "fl", "--seeds", "{v}", "--rounds", "4", "--out", str(tmp / "c.csv")],
                  ["calibrate", digits, "-p", "fl", "--rounds", "{v}", "--out", str(tmp / "c.csv")]]
    for args in table:
        for v in values:
            if args[0] in ("validate", "calibrate") and "--rounds" in args and args[args.index("--rounds") + 1] == "{v}" \
                    and v in ("99999999999", "1e400", "inf"):
                continue                       # asked to train for ever: it would (Ctrl-C stops it)
            yield [a.replace("{v}", v) for a in args]
