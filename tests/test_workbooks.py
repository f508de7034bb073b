"""Measured workbooks: the four shipped ones, synthetic ones, and broken copies."""

from __future__ import annotations

import shutil

import numpy as np
import openpyxl
import pytest
from edgeplan.errors import ScenarioError
from edgeplan.models.profile_io import read_times_csv, read_workbook, write_times_csv

from .conftest import SCENARIOS, WORKBOOKS, needs_shared


def _workbook(path, machines: dict, memory):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in machines.items():
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(list(r))
    ws = wb.create_sheet("memory")
    for r in memory:
        ws.append(list(r))
    wb.save(path)
    return path


def test_synthetic_workbook(tmp_path):
    mem = [(256.0, 10.0), (128.0, 100.0), (1.0, 4.0)]
    p = _workbook(tmp_path / "w.xlsx", {"fast": [(1, 2, 0.1), (3, 4, 0.2), (1, 1, 0)],
                                        "zeros": [(0, 0, 0)] * 3}, mem)
    table, times = read_workbook(p, batch_size=128, input_bytes=3072)
    assert table.L == 3
    assert table.out[0] == 3072
    assert table.out[1] == pytest.approx(256 * 1024 / 128)
    assert table.pbytes[2] == pytest.approx(100 * 1024)
    assert times.machines == ["fast"]
    np.testing.assert_allclose(times.per_sample("fast"), np.array([3.1, 7.2, 2.0]) / 1000 / 128)
    assert "zeros" in times.problems
    with pytest.raises(ValueError, match=r"sheet 'zeros' is all zeros: that machine was not measured for this "
                                         r"model; use another sheet"):
        times.check_machine("zeros")
    write_times_csv(times, tmp_path / "t.csv")
    again = read_times_csv(tmp_path / "t.csv", table.names)
    np.testing.assert_allclose(again.per_sample("fast"), times.per_sample("fast"))


def test_row_count_mismatch_is_an_error(tmp_path):
    p = _workbook(tmp_path / "w.xlsx", {"m": [(1, 1, 0)] * 4}, [(1.0, 1.0)] * 3)
    with pytest.raises(ScenarioError, match=r"w\.xlsx: sheet 'm' has 4 layer rows but sheet 'memory' has 3; every "
                                            r"machine sheet needs one row per layer of the memory sheet"):
        read_workbook(p)


def test_mostly_unmeasured_sheet_is_reported(tmp_path):
    p = _workbook(tmp_path / "w.xlsx", {"part": [(0, 0, 0), (0, 0, 0), (5, 5, 0), (0, 0, 0)]}, [(1.0, 1.0)] * 4)
    _, times = read_workbook(p)
    assert times.problems["part"].startswith("sheet 'part' has 3 of 4 layers unmeasured")


SHIPPED = SCENARIOS / "profiles" / "vgg19_CIFAR.xlsx"      # in every clone (ATTRIBUTION.md)


@pytest.mark.parametrize("name", ["vgg19_CIFAR", pytest.param("vgg19_MNIST", marks=needs_shared),
                                  pytest.param("resnet101_CIFAR", marks=needs_shared),
                                  pytest.param("resnet101_MNIST", marks=needs_shared)])
def test_reads_the_measured_workbooks(name):
    table, times = read_workbook(SHIPPED if name == "vgg19_CIFAR" else WORKBOOKS / f"{name}.xlsx")
    assert table.L == (25 if name.startswith("vgg") else 37)
    assert {"VM", "laptop", "d1"} <= set(times.machines)
    assert "d2" in times.problems          # d2 is only partly measured in every workbook
    for m in times.machines:
        assert (times.per_sample(m) >= 0).all() and times.per_sample(m).sum() > 0


def test_broken_copy_is_rejected(tmp_path):
    p = tmp_path / "broken.xlsx"
    shutil.copy(SHIPPED, p)
    wb = openpyxl.load_workbook(p)
    wb["laptop"].append([1.0, 2.0, 0.0])
    wb.save(p)
    with pytest.raises(ScenarioError, match=r"broken\.xlsx: sheet 'laptop' has 26 layer rows but sheet 'memory' "
                                            r"has 25"):
        read_workbook(p)


def test_not_a_workbook(tmp_path):
    p = tmp_path / "x.xlsx"
    p.write_text("hello")
    with pytest.raises(ScenarioError, match=r"x\.xlsx: not a readable \.xlsx workbook"):
        read_workbook(p)


def test_scenario_on_unmeasured_machine_is_an_error(tmp_path):
    from edgeplan.costs import CostModel
    from edgeplan.scenario import load_scenario
    _workbook(tmp_path / "w.xlsx", {"ok": [(1, 2, 0)] * 3, "zeros": [(0, 0, 0)] * 3}, [(1.0, 1.0)] * 3)
    (tmp_path / "s.yaml").write_text("""name: w
model: {profile: w.xlsx, input_shape: [1, 8, 8]}
nodes:
  - {name: srv, role: server, measured: ok, power: 10 W}
  - {name: dev, role: device, measured: zeros, power: 1 W}
links:
  - {from: dev, to: srv, uplink: 10 Mbit/s}
""")
    scn = load_scenario(tmp_path / "s.yaml")
    with pytest.raises(ScenarioError, match=r"s\.yaml:5: nodes\[1\]\.measured: sheet 'zeros' is all zeros"):
        CostModel(scn)


def test_profile_of_a_workbook_shows_no_flop_columns_it_does_not_have():
    """A measured workbook has times, not FLOP counts: the table showed columns of zeros and
    'forward 0 GMAC (0 FLOP)'; without --sheet it did not say which machines it could show."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    book = SCENARIOS / "profiles" / "vgg19_CIFAR.xlsx"
    r = CliRunner().invoke(app, ["profile", "--measured", str(book), "--sheet", "laptop"])
    assert r.exit_code == 0, r.output
    assert "fwd FLOP" not in r.output and "GMAC" not in r.output and "no FLOP counts" in r.output
    assert "time" in r.output.splitlines()[1]
    r = CliRunner().invoke(app, ["profile", "--measured", str(book)])
    assert r.exit_code == 0 and "--sheet NAME shows a machine's times: laptop" in r.output, r.output
