"""Start-up without torch: a profile is traced once, kept in the cache, and read back by later
commands without importing torch; --no-cache profiles afresh and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

PROBE = """
import sys
from edgeplan.scenario import load_scenario
from edgeplan.graph import unit_table
t = unit_table(load_scenario(sys.argv[1]))
print(t.L, float(t.F[-1]), 'torch' in sys.modules)
"""


def _run(env, *args):
    r = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    L, F, torch = r.stdout.split()
    return int(L), float(F), torch == "True"


def test_second_load_reads_the_cache_without_torch(tmp_path):
    env = {**os.environ, "EDGEPLAN_CACHE_DIR": str(tmp_path)}
    env.pop("EDGEPLAN_NO_CACHE", None)
    scn = str(SCENARIOS / "digits-small.yaml")
    first = _run(env, scn)
    assert first[2]                                   # traced with torch
    files = list((tmp_path / "profiles").glob("*.json"))
    assert len(files) == 1
    second = _run(env, scn)
    assert second[:2] == first[:2] and not second[2]  # the same table, no torch
    # a damaged entry is traced again, not trusted
    files[0].write_text("{not json")
    assert _run(env, scn)[2]
    json.loads(files[0].read_text())


def test_no_cache_writes_nothing(tmp_path):
    env = {**os.environ, "EDGEPLAN_CACHE_DIR": str(tmp_path)}
    r = subprocess.run([sys.executable, "-m", "edgeplan.cli", "check", str(SCENARIOS / "digits-small.yaml"),
                        "--no-cache"], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "profiles").exists()


def test_editing_a_user_model_profiles_it_again(tmp_path):
    (tmp_path / "mynet.py").write_text(
        "import torch.nn as nn\n"
        "def make(width=8):\n"
        "    return nn.Sequential(nn.Flatten(), nn.Linear(64, width), nn.ReLU(), nn.Linear(width, 10))\n")
    text = (SCENARIOS / "digits-small.yaml").read_text()
    import yaml
    data = yaml.safe_load(text)
    data["model"] = {"module": "mynet:make", "input_shape": [1, 8, 8], "num_classes": 10}
    scn = tmp_path / "s.yaml"
    scn.write_text(yaml.safe_dump(data))
    env = {**os.environ, "EDGEPLAN_CACHE_DIR": str(tmp_path / "cache")}
    a = _run(env, str(scn))
    assert not _run(env, str(scn))[2]
    (tmp_path / "mynet.py").write_text((tmp_path / "mynet.py").read_text().replace("width=8", "width=16"))
    b = _run(env, str(scn))
    assert b[2] and b[1] > a[1]
