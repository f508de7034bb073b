"""The command line: exit codes, stderr messages, files written whole."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import SCENARIOS, write


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "planner.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_check_good_file():
    r = run("check", SCENARIOS / "digits-small.yaml")
    assert r.returncode == 0, r.stderr
    assert "ok: 3 devices" in r.stdout
    assert "pi-0" in r.stdout and "wlan" in r.stdout


def test_check_bad_file_exit_2_message_on_stderr(tmp_path):
    bad = (SCENARIOS / "digits-small.yaml").read_text().replace("from: phone", "from: phnoe")
    p = write(tmp_path, bad)
    r = run("check", p)
    assert r.returncode == 2
    assert "links[1].from: node 'phnoe' is not defined; did you mean 'phone'?" in r.stderr
    assert r.stdout == ""
    assert "Traceback" not in r.stderr


def test_schema_is_json_schema():
    r = run("schema")
    assert r.returncode == 0
    s = json.loads(r.stdout)
    assert "nodes" in s["properties"] and s["additionalProperties"] is False


def test_unknown_paradigm_exit_2():
    r = run("plan", SCENARIOS / "digits-small.yaml", "--paradigm", "xyz")
    assert r.returncode == 2
    assert "unknown paradigm 'xyz'" in r.stderr
