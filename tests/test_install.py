"""First contact: the README's main command is quiet, its Python example runs as written, and the
installed wheel is one package (`edgeplan`) that lives beside a user's own `models` and
`validation` packages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from .conftest import ROOT, SCENARIOS

CHATTER = re.compile(r"highs|^WARNING|^Rows:|^Running|^Coefficient|^Presolving|warn", re.I | re.M)


def test_the_main_command_shows_no_solver_lines():
    """`edgeplan compare scenarios/psl-hetero.yaml` (the README's first command), at 80 columns."""
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "compare", str(SCENARIOS / "psl-hetero.yaml")],
                       capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"}, timeout=300)
    assert r.returncode == 0, r.stderr
    shown = r.stdout + r.stderr
    assert not CHATTER.search(shown), shown[:2000]
    assert "…" not in shown                                   # no header cut short
    assert all(len(line) <= 80 for line in r.stdout.splitlines()), r.stdout


def _readme_python() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"```python\n(import edgeplan\n.*?)```", text, re.S)
    assert m, "the README shows the Python API in a ```python block starting with `import edgeplan`"
    return m.group(1)


def test_the_readmes_python_example_runs_as_written(monkeypatch):
    code = _readme_python()
    assert len(code.strip().splitlines()) <= 10
    monkeypatch.chdir(ROOT)
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)            # noqa: S102  (the README's own lines)
    assert scope["plan"].predicted["round_latency_s"] > 0
    # what a notebook shows: a run in words (its repr was a DataFrame cut off mid-row), a plan's
    # details in units, its cuts as whole numbers (2, not 2.0; the server has none)
    run = repr(scope["run"]).splitlines()
    assert run[0] == "RunResult(digits-small: psl, 2 rounds, inprocess)" and run[1].startswith("  round latency: ")
    assert "bisection_round_latency_s=2.59 s" in repr(scope["plan"])
    cuts = scope["plan"].assignments_df.cut
    assert str(cuts.dtype) == "Int64" and cuts.isna().sum() == 1 and set(cuts.dropna()) <= {1, 2, 3, 4, 5, 6}


def test_the_python_api_refuses_a_round_count_that_trains_nothing_or_everything():
    """validate(rounds=0) trained training.rounds and rounds=-1 trained none, silently."""
    import edgeplan
    from edgeplan.errors import PlanError
    scn = edgeplan.load(ROOT / "scenarios" / "digits-small.yaml")
    plan = edgeplan.plan(scn, "sl")
    for bad in (0, -1, 2.5):
        with pytest.raises(PlanError, match=f"rounds={bad!r}: give a whole number of rounds from 1"):
            edgeplan.validate(scn, plan, rounds=bad)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The wheel installed (not editable) in a fresh venv that borrows this one's dependencies."""
    tmp = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp / "dist"), str(ROOT)], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.skip(f"cannot build the wheel here: {r.stderr[-300:]}")
    wheel = next((tmp / "dist").glob("edgeplan-*.whl"))
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=True)
    py = env_dir / "bin" / "python"
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True).stdout.strip()
    # the dependencies of this environment, without its editable edgeplan (a plain path, no .pth run)
    Path(site, "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    r = subprocess.run([str(py), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return env_dir


def test_the_wheel_is_one_package_beside_a_users_own_models_and_validation(installed, tmp_path):
    proj = tmp_path / "myproject"
    for pkg in ("models", "validation"):
        (proj / pkg).mkdir(parents=True)
        (proj / pkg / "__init__.py").write_text(f"MINE = '{pkg}'\n")
    files = {p.split("/")[-1] for p in subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import edgeplan, pathlib; print('\\n'.join(str(p) for p in "
         "pathlib.Path(edgeplan.__file__).parent.iterdir()))"], capture_output=True, text=True, cwd=proj).stdout.split()}
    assert {"models", "validation", "cli.py", "costs.py"} <= files
    r = subprocess.run([str(installed / "bin" / "edgeplan"), "plan", str(SCENARIOS / "digits-small.yaml"), "-p", "psl"],
                       capture_output=True, text=True, cwd=proj, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([str(installed / "bin" / "python"), "-c",
                        "import models, validation, edgeplan, edgeplan.models.zoo, edgeplan.validation.data; "
                        "print(models.MINE, validation.MINE, edgeplan.__file__)"],
                       capture_output=True, text=True, cwd=proj, timeout=300)
    assert r.returncode == 0, r.stderr
    mine_m, mine_v, where = r.stdout.split()
    assert (mine_m, mine_v) == ("models", "validation") and str(ROOT) not in where
