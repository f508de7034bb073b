"""Faults the launcher meets (what `timeout`, systemd and CI send), output that is whole or not
there at all, and checkpoints that are data, never code."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import yaml
from edgeplan import paradigms
from edgeplan.costs import CostModel
from edgeplan.errors import ScenarioError
from edgeplan.scenario import load_scenario

from .conftest import SCENARIOS

DIGITS = SCENARIOS / "digits-small.yaml"


def _cli(*args, **kw):
    return subprocess.Popen([sys.executable, "-m", "edgeplan.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **kw)


def _children(pid: int) -> list[int]:
    """Every descendant (the nodes are forked by multiprocessing's fork server, the launcher's child)."""
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids = [int(x) for x in f.read().split()]
        for k in kids:
            out.append(k)
            try:
                out += _children(k)
            except FileNotFoundError:
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _wait_rounds(out, n: int, proc, limit: float = 240.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        f = out / "rounds.json"
        if f.exists() and len(json.loads(f.read_text())["rounds"]) >= n:
            return
        assert proc.poll() is None, proc.stdout.read()
        time.sleep(0.2)
    raise AssertionError("the run made no progress")


def _two_devices(tmp_path):
    data = yaml.safe_load(DIGITS.read_text())
    data["nodes"][1]["count"] = 1
    path = tmp_path / "two.yaml"
    path.write_text(yaml.safe_dump(data))
    scn = load_scenario(path)
    plan = paradigms.get("psl").solve(CostModel(scn))
    plan.save(tmp_path / "plan.json")
    return path, scn, plan


def test_inprocess_run_killed_resumes_to_the_same_training(tmp_path):
    """The in-process transport's guarantee, as the distributed one's below: a run killed (or
    stopped) mid-way leaves whole files, and --resume reaches what an unbroken run reaches. A
    SIGKILL during a write leaves that write's temporary (nothing can remove it then; seen once in
    a CI run): the resumed run removes it."""
    from edgeplan.validation.runner import run_inprocess
    path, scn, plan = _two_devices(tmp_path)
    out = tmp_path / "run"
    proc = _cli("validate", path, tmp_path / "plan.json", "--rounds", "12", "--out", out)
    t0 = time.monotonic()
    while not (out / "rounds.csv").exists() or len((out / "rounds.csv").read_text().splitlines()) < 3:
        assert proc.poll() is None and time.monotonic() - t0 < 240, proc.stdout.read()
        time.sleep(0.1)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(60) == -9
    json.loads((out / "rounds.json").read_text())           # whole
    (out / ".rounds.json.0123456789ab.tmp").write_text("{")  # as a kill during its write leaves it
    done = subprocess.run([sys.executable, "-m", "edgeplan.cli", "validate", path, tmp_path / "plan.json",
                           "--rounds", "12", "--out", out, "--resume", "--format", "json"],
                          capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    rounds = json.loads(done.stdout)["rounds"]
    assert [r["round"] for r in rounds] == list(range(1, 13))
    full = run_inprocess(scn, plan, rounds=12)
    np.testing.assert_array_equal([r["test_accuracy"] for r in rounds], full.rounds.test_accuracy)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_node_processes_die_with_their_launcher_and_resume_reaches_the_whole_run(tmp_path, sig):
    from edgeplan.validation.runner import run_inprocess
    path, scn, plan = _two_devices(tmp_path)
    out = tmp_path / "run"
    proc = _cli("validate", path, tmp_path / "plan.json", "--executor", "distributed", "--rounds", "5", "--out", out,
                "--timeout", "60")
    _wait_rounds(out, 2, proc)
    kids = _children(proc.pid)
    assert len(kids) >= 3, "the launcher runs its nodes (three here) as descendant processes"
    os.kill(proc.pid, sig)
    code = proc.wait(60)
    if sig == signal.SIGTERM:                            # handled like Ctrl-C, and says how to go on
        said = proc.stdout.read()
        assert code == 130 and f"interrupted: every finished round is checkpointed in {out}; the same command " \
            "with --resume goes on from there" in " ".join(said.split()), said
    deadline = time.monotonic() + 10
    while any(_alive(k) for k in kids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(k) for k in kids), "node processes outlived their launcher"
    json.loads((out / "rounds.json").read_text())           # whole (a node killed mid-write may leave a temporary)
    done = subprocess.run([sys.executable, "-m", "edgeplan.cli", "validate", path, tmp_path / "plan.json",
                           "--executor", "distributed", "--rounds", "5", "--out", out, "--resume", "--timeout", "60",
                           "--format", "json"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    rounds = json.loads(done.stdout)["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3, 4, 5]
    full = run_inprocess(scn, plan, rounds=5)
    np.testing.assert_array_equal([r["test_accuracy"] for r in rounds], full.rounds.test_accuracy)


def test_resume_refuses_states_that_do_not_fit(tmp_path):
    from edgeplan.errors import PlanError
    from edgeplan.validation.checkpoints import resume_round as _check_resume
    from edgeplan.validation.checkpoints import save_checkpoint
    _, _, plan = _two_devices(tmp_path)
    for rank, r in ((0, 6), (1, 20)):                     # rank 1 trained on alone to round 20
        save_checkpoint(tmp_path / f"rank{rank}.pt", {"round": r, "plan": plan.to_dict(), "engine": {}, "shards": {}})
    save_checkpoint(tmp_path / "rank1.prev.pt", {"round": 19, "plan": plan.to_dict(), "engine": {}, "shards": {}})
    with pytest.raises(PlanError, match=r"rank 1 holds the states of rounds 19, 20, the run recorded 6: the states do "
                                        r"not fit together"):
        _check_resume(tmp_path, plan, 6, 2)
    save_checkpoint(tmp_path / "rank1.pt", {"round": 7, "plan": plan.to_dict(), "engine": {}, "shards": {}})
    save_checkpoint(tmp_path / "rank1.prev.pt", {"round": 6, "plan": plan.to_dict(), "engine": {}, "shards": {}})
    assert _check_resume(tmp_path, plan, 6, 2) == 6       # one round ahead: its previous state fits


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")     # torch's, about the crafted file
def test_a_crafted_checkpoint_runs_no_code(tmp_path):
    """`--resume` loads checkpoints with weights_only: a pickle that would run code is refused."""
    from edgeplan.validation.runner import run_inprocess
    scn = load_scenario(DIGITS)
    plan = paradigms.get("fl").solve(CostModel(scn))
    out = tmp_path / "run"
    out.mkdir()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    with open(out / "rank0.pt", "wb") as f:
        pickle.dump({"plan": Evil()}, f)
    with pytest.raises(ScenarioError, match=r"not a checkpoint this tool wrote \(it holds Python objects, which are "
                                            r"refused unrun\); use a fresh --out directory"):
        run_inprocess(scn, plan, rounds=1, out_dir=out, resume=True)
    assert not marker.exists()


def test_sigterm_during_a_pool_sweep_stops_it_and_keeps_the_points_planned(tmp_path):
    """A SIGTERM reached the sweep's parent only: the pool's `with` block waited for every queued
    chunk (about 200 s for 2,000 points of every paradigm), and then nothing was written."""
    out = tmp_path / "sweep"
    n = 20000                                # psl alone: about 90 s on 2 cores, if nothing stopped it
    proc = _cli("sweep", SCENARIOS / "psl-hetero.yaml", "--vary", f"channels.ap0.bandwidth=log:1MHz:1GHz:{n}",
                "-p", "psl", "--workers", "2", "--out", out, start_new_session=True)
    time.sleep(8)
    proc.send_signal(signal.SIGTERM)
    said = proc.communicate(timeout=120)[0]
    assert proc.returncode == 130, said
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)               # the pool's workers went with it
    assert "Traceback" not in said, said
    left = os.listdir(out)
    assert sorted(left) == ["sweep.csv", "sweep.parquet"], left          # the table only, no temporary file
    import pandas as pd
    kept = pd.read_csv(out / "sweep.csv")
    assert 0 < kept["channels.ap0.bandwidth"].nunique() < n and kept.status.notna().all()
    assert f"interrupted: {kept['channels.ap0.bandwidth'].nunique()} of {n} points planned, written to" in said
    assert "the same command with --resume goes on from there" in said


def test_sigterm_during_a_ray_sweep_keeps_the_points_planned_and_ray_stays_quiet(tmp_path):
    """ray.init took SIGTERM over: the sweep died with exit 1 and Ray's crash log, nothing kept; and
    Ray's own log lines (token authentication, 'Started a local Ray instance') reached the console."""
    pytest.importorskip("ray")
    out = tmp_path / "sweep"
    n = 20000
    proc = _cli("sweep", SCENARIOS / "psl-hetero.yaml", "--vary", f"channels.ap0.bandwidth=log:1MHz:1GHz:{n}",
                "-p", "psl", "--workers", "2", "--engine", "ray", "--out", out, start_new_session=True)
    time.sleep(20)
    proc.send_signal(signal.SIGTERM)
    said = proc.communicate(timeout=180)[0]
    assert proc.returncode == 130, said
    assert "SIGTERM received" not in said and "INFO" not in said and "WARNING" not in said, said
    import pandas as pd
    kept = pd.read_csv(out / "sweep.csv")
    assert 0 < kept["channels.ap0.bandwidth"].nunique() < n


def test_a_killed_writers_temporaries_go_and_nothing_else(tmp_path):
    from edgeplan.files import remove_leftovers
    left = [".rounds.json.0123456789ab.tmp", ".curves.png.abcdef012345.png"]
    kept = [".hidden", "a.tmp", ".x.0123456789ab.png", ".rounds.json.0123.tmp", "rounds.json"]
    for name in left + kept:
        (tmp_path / name).write_text("x")
    assert sorted(remove_leftovers(tmp_path)) == sorted(left)
    assert sorted(os.listdir(tmp_path)) == sorted(kept)


def test_outputs_have_the_users_permissions(tmp_path):
    from edgeplan.files import atomic_write
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "r.html", "<p>hi</p>")
    finally:
        os.umask(old)
    assert oct(os.stat(tmp_path / "r.html").st_mode & 0o777) == oct(0o644)


def test_a_signal_at_any_point_of_an_atomic_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    """Python runs a signal's handler at its next call: one ran just after the temporary file was
    created (inside mkstemp, before its name came back) and left it behind, 1 killed run in 75."""
    import edgeplan.files as files
    real_open = os.open

    def open_then_interrupted(*args, **kwargs):
        os.close(real_open(*args, **kwargs))
        raise KeyboardInterrupt("signal 15")
    monkeypatch.setattr(files.os, "open", open_then_interrupted)
    with pytest.raises(KeyboardInterrupt):
        files.atomic_write(tmp_path / "rounds.json", "{}")
    monkeypatch.undo()
    with pytest.raises(KeyboardInterrupt):
        with files.atomic_path(tmp_path / "rounds.json") as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt("signal 15")
    files.atomic_write(tmp_path / "rounds.json", "{}")
    assert os.listdir(tmp_path) == ["rounds.json"]


def test_a_reader_that_goes_away_costs_no_output_file(tmp_path):
    """`edgeplan compare ... --out c.csv | head -1`: the pipe closes before the command is done
    printing; the command still writes its file, exits 0 and prints no traceback (it died at its
    next print, exit 1, the file unwritten)."""
    proc = subprocess.Popen([sys.executable, "-m", "edgeplan.cli", "compare", str(DIGITS), "--out",
                             str(tmp_path / "c.csv")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdout.close()                       # the reader is gone before the first line
    errs = proc.stderr.read()
    assert proc.wait(120) == 0, errs
    assert (tmp_path / "c.csv").stat().st_size > 0
    assert "Traceback" not in errs and "BrokenPipe" not in errs, errs
