"""The command line: exit codes, stderr messages, files written whole."""

from __future__ import annotations

import json
import subprocess
import sys

from .conftest import SCENARIOS, write


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "edgeplan.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_check_good_file():
    r = run("check", SCENARIOS / "digits-small.yaml")
    assert r.returncode == 0, r.stderr
    assert "ok: 3 devices" in r.stdout
    assert "pi-0" in r.stdout and "wlan" in r.stdout


def test_check_reads_at_80_columns_and_counts_nodes_by_role():
    """Numbers with their unit on one line, every line within 80 columns, counts in words."""
    r = run("check", SCENARIOS / "fpl-fog.yaml")
    assert r.returncode == 0, r.stderr
    assert "ok: 12 devices, 2 fog nodes, 1 cloud node, 15 links" in r.stdout
    assert max(len(line) for line in r.stdout.splitlines()) <= 80
    r = run("check", SCENARIOS / "fleet-1000.yaml")
    assert "... and 971 more: 971 devices; compute" in r.stdout and "ok: 1,000 devices, 1 server, 1,000 links" in r.stdout
    assert "GFLOP/s" in r.stdout.split("... and")[0] and max(len(line) for line in r.stdout.splitlines()) <= 80


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


def test_measured_unit_times_of_this_host_feed_a_scenario(tmp_path):
    """`profile --measure --batch-size --times-out` writes times a scenario can plan with."""
    import pytest
    import yaml
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.models.profile_io import read_times_csv
    from edgeplan.scenario import load_scenario
    times = tmp_path / "host.csv"
    r = run("profile", "fpl_cnn", "--input-shape", "1,8,8", "--measure", "--batch-size", "16", "--times-out", times)
    assert r.returncode == 0, r.stderr
    t = read_times_csv(times)
    assert t.machines == ["this-host"] and set(t.df.batch_size) == {16}
    assert (t.df.fwd_s > 0).all() and (t.df.bwd_s > 0).all()
    data = yaml.safe_load((SCENARIOS / "digits-small.yaml").read_text())
    data["model"]["times"] = str(times)
    for n in data["nodes"]:
        n.pop("compute")
        n["measured"] = "this-host"
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(data))
    cm = CostModel(load_scenario(path))
    plan = paradigms.get("fl").solve(cm)
    # fl's devices compute the whole model: their time is the table's, scaled to their batches
    per_sample = float(((t.df.fwd_s + t.df.bwd_s) / 16).sum())
    dev = next(a for a in plan.assignments if a["node"] == "pi-0")
    assert cm.S[cm.idx["pi-0"], -1] == pytest.approx(per_sample, rel=1e-9)
    assert dev["round_latency_s"] > cm.tau * 32 * per_sample


def test_times_out_without_times_is_a_bad_option(tmp_path):
    r = run("profile", "fpl_cnn", "--input-shape", "1,8,8", "--times-out", tmp_path / "t.csv")
    assert r.returncode == 2
    assert "--times-out needs --measure or --measured" in r.stderr
    assert not (tmp_path / "t.csv").exists()


def test_counts_and_timeouts_out_of_range_are_bad_options(tmp_path):
    """--rounds 0 used to validate for training.rounds, --points -3 ended in an internal error,
    --workers 0, --num-classes 0 and --timeout -1 were taken as given."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    digits = str(SCENARIOS / "digits-small.yaml")
    plan = tmp_path / "sl.json"
    assert CliRunner().invoke(app, ["plan", digits, "-p", "sl", "--out", str(plan)]).exit_code == 0
    for args, says in [(["validate", digits, str(plan), "--rounds", "0"], "'--rounds'"),
                       (["validate", digits, str(plan), "--timeout", "-1"], "--timeout -1: give the seconds"),
                       (["pareto", digits, "-p", "psl", "--points", "-3"], "'--points'"),
                       (["sweep", digits, "--vary", "training.batch_size=8", "--workers", "0"], "'--workers'"),
                       (["profile", "mlp", "--num-classes", "0"], "'--num-classes'"),
                       (["profile", "mlp", "--batch-size", "0"], "'--batch-size'")]:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and says in r.output, (args, r.output)


def test_output_paths_that_cannot_be_written_are_refused_before_the_work(tmp_path):
    """A folder where a file goes (or a file where a folder goes) ended in an internal error after
    the plan, comparison or sweep was made; now each is refused first (exit 2), nothing written."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    digits = str(SCENARIOS / "digits-small.yaml")
    a_file = tmp_path / "a.json"
    a_file.write_text("{}")
    cases = [(["plan", digits, "-p", "sl", "--out", str(tmp_path)], f"{tmp_path}: is a folder; give a file path"),
             (["compare", digits, "--html", str(tmp_path)], "is a folder; give a file path"),
             (["sweep", digits, "--vary", "training.batch_size=8", "-p", "sl", "--out", str(a_file)],
              f"{a_file}: is a file; give a folder path"),
             (["validate", digits, str(a_file), "--out", str(a_file / "run")],
              f"{a_file} is a file, so no folder can be made below it"),
             (["calibrate", digits, "-p", "fl", "--out", str(tmp_path)], "is a folder; give a file path"),
             (["profile", "mlp", "--times-out", str(tmp_path)], "is a folder; give a file path")]
    for args, says in cases:
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2 and says in r.output, (args, r.output)
        assert "detail:" not in r.output and "wrote" not in r.output         # refused before planning
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"] and a_file.read_text() == "{}"


def test_a_host_figure_the_measurement_cannot_pin_is_not_offered_as_a_node_field(monkeypatch):
    """A small MLP's unit times do not depend on memory traffic: the fit's memory_bandwidth is
    infinite, and 'memory_bandwidth inf' was printed as a node field to copy (the schema refuses
    inf). The fit itself is this host's measurement; its infinite figure is set here."""
    import edgeplan.compute
    from edgeplan.cli import app
    from typer.testing import CliRunner
    real = edgeplan.compute.fit_host
    monkeypatch.setattr(edgeplan.compute, "fit_host",
                        lambda table, b: {**real(table, b), "memory_bandwidth": float("inf")})
    r = CliRunner().invoke(app, ["profile", "mlp", "--input-shape", "1,8,8", "--measure", "--batch-size", "4"])
    text = " ".join(r.output.split())
    assert r.exit_code == 0 and "memory_bandwidth not measurable on this model" in text, r.output
    assert "memory_bandwidth inf" not in text and "call_overhead" in text


def test_compare_console_and_html_say_the_same_about_infeasible_paradigms(tmp_path):
    """Devices of 60 KiB: no split fits them, and fl's whole model does not either. The console
    and the HTML report both say why, in the same words (they were assembled apart, and the
    report left the reasons out)."""
    import html
    import re
    p = write(tmp_path, (SCENARIOS / "digits-small.yaml").read_text().replace("memory: 1 GiB", "memory: 60 KiB"))
    r = run("compare", p, "--html", tmp_path / "c.html")
    assert r.returncode == 0, r.stderr
    why = ["fl (exact) is infeasible: pi-0: needs 3.32 MiB of memory, has 60 KiB",
           "sl (exact): pi-0: no cut in 1..5 fits 60 KiB; the smallest needs 274 KiB",
           "an epoch is 1,437 samples"]
    console = " ".join(r.stdout.split())                  # lines folded at 80 columns, joined
    page = html.unescape(" ".join(re.findall(r'<p class="note">(.*?)</p>', (tmp_path / "c.html").read_text())))
    for sentence in why:
        assert sentence in console and sentence in page, sentence


def test_compare_all_gives_each_paradigms_note_once():
    """`--all` shows every method; the notes under it are of each paradigm's best plan, once (with
    the notes assembled from the rows shown, fpl's came once per method and pel's three times)."""
    r = run("compare", SCENARIOS / "digits-small.yaml", "--all")
    said = " ".join(r.stdout.split())
    assert r.returncode == 0 and said.count("fpl: junction") == 1 and said.count("pel: ") <= 1, r.stdout
    assert said.count("an epoch is") == 1


def test_compare_for_scripts_gives_rounds_as_whole_numbers():
    """rounds_to_target read 13.0 beside rounds_to_target_fastest 9: a blank in the column (the
    slowest end never reached) made pandas take it as floats."""
    import json
    r = run("compare", SCENARIOS / "digits-target.yaml", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    got = [x["rounds_to_target"] for x in rows] + [x["rounds_to_target_fastest"] for x in rows]
    assert got and all(type(v) is int for v in got), got
    r = run("compare", SCENARIOS / "digits-target.yaml", "--format", "csv")
    import csv
    import io
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert all("." not in x["rounds_to_target"] for x in rows), [x["rounds_to_target"] for x in rows]
