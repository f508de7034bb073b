"""Curves that follow a measured reference run at a pace of their own (family `reference`,
planner.reference_fit.fit_along): fl and psl beside the centralised run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from edgeplan.convergence import REFERENCE, Curve, Fit, FitError
from edgeplan.curves import read_table, write_table
from edgeplan.errors import ScenarioError
from edgeplan.reference_fit import fit_along
from edgeplan.scenario import load_scenario

from .conftest import SCENARIOS

# the reference run: fast at first, then slowly on (no three-parameter family follows it closely)
REF_X = np.arange(1.0, 41.0)
REF_Y = 0.9 - 0.5 * np.exp(-REF_X / 2.0) - 0.3 * np.exp(-REF_X / 12.0)


def _truth(pace: float, lag: float = 0.0):
    """The reference curve (linear between its rounds, from 0.1 at 0) at `pace`, held `lag` rounds."""
    kx, ky = np.concatenate([[0.0], REF_X]), np.concatenate([[0.1], REF_Y])

    def acc(x):
        x = np.asarray(x, float)
        u = np.where(x > 1, 1 + np.maximum(x - 1 - lag, 0), x)
        return np.interp(pace * u, kx, ky)
    return acc


@pytest.mark.parametrize("pace, lag", [(0.4, 0.0), (0.25, 1.0), (1.5, 0.0)])
def test_the_pace_and_lag_are_recovered_without_noise(pace, lag):
    x = np.arange(1.0, 9.0)
    (fit,) = fit_along((REF_X, REF_Y), {"fl": (x, _truth(pace, lag)(x))}, start=0.1).values()
    assert fit.family == REFERENCE
    assert fit.params[2] == pytest.approx(pace, rel=1e-3) and fit.lag == pytest.approx(lag, abs=1e-6)
    assert fit.mean(30.0) == pytest.approx(float(_truth(pace, lag)(30.0)), abs=1e-4)
    assert fit.plateau == pytest.approx(REF_Y.max())


def test_the_pace_is_recovered_with_noise_and_the_band_holds_the_truth():
    rng = np.random.default_rng(0)
    x = np.tile(np.arange(1.0, 9.0), 3)                         # three seeds
    y = _truth(0.4)(x) + rng.normal(0, 0.01, len(x))
    ref_x = np.tile(REF_X, 3)
    ref_y = np.tile(REF_Y, 3) + rng.normal(0, 0.005, len(ref_x))
    (fit,) = fit_along((ref_x, ref_y), {"fl": (x, y)}, start=0.1).values()
    assert fit.params[2] == pytest.approx(0.4, rel=0.1)
    lo, hi = fit.band(40.0)
    assert lo <= float(_truth(0.4)(40.0)) <= hi
    assert 0 < fit.std(40.0) < 0.05


def test_rounds_to_a_target_invert_the_curve_and_a_target_above_the_run_is_out_of_reach():
    x = np.arange(1.0, 9.0)
    (fit,) = fit_along((REF_X, REF_Y), {"fl": (x, _truth(0.4, 1.0)(x))}, start=0.1).values()
    for target in (0.5, 0.7, 0.85):
        first = fit.first_reaching(target)
        assert fit.mean(first) == pytest.approx(target, abs=1e-6)
        assert fit.mean(first * 0.99) < target
    assert fit.first_reaching(0.95) is None
    cv = Curve("fl", "fl", 100.0, fit, None, 8, 1, 0.5)
    assert cv.rounds_to(0.95)["rounds"] is None and cv.predict(40)["plateau"] == pytest.approx(REF_Y.max())
    assert cv.rounds_to(0.7, samples_per_round=200.0)["rounds"] == pytest.approx(
        np.ceil(fit.first_reaching(0.7) / 2), abs=1)          # twice the samples a round: half the rounds


def test_the_reference_run_is_made_monotone_and_held_to_the_ceiling():
    noisy = REF_Y.copy()
    noisy[10] += 0.05                                            # one noisy round above its neighbours
    x = np.arange(1.0, 9.0)
    (fit,) = fit_along((REF_X, noisy), {"fl": (x, _truth(0.4)(x))}, start=0.1, ceiling=0.85).values()
    assert np.all(np.diff(fit.knots[1]) >= 0) and fit.knots[1].max() <= 0.85 and fit.plateau <= 0.85


def test_too_short_a_reference_run_or_pilot_says_how_many_rounds_it_needs():
    with pytest.raises(FitError, match="the reference run: a learning curve needs at least 4 measured rounds, got 3"):
        fit_along((REF_X[:3], REF_Y[:3]), {"fl": (REF_X[:8], REF_Y[:8])})
    with pytest.raises(FitError, match="fl: .*got 2"):
        fit_along((REF_X, REF_Y), {"fl": (REF_X[:2], REF_Y[:2])})


def test_calibration_gives_fl_the_reference_runs_curve():
    """fit_curves: fl beside the centralised run takes that run's curve (family reference)."""
    from edgeplan.calibration import CENTRALISED, fit_curves

    def rows(par, x, acc):
        return pd.DataFrame({"paradigm": par, "configuration": par, "seed": 0, "round": x, "samples": 100.0 * x,
                             "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    x = np.arange(1.0, 7.0)
    (cv,) = fit_curves(pd.concat([rows("fl", x, _truth(0.3)(x)), rows(CENTRALISED, REF_X, REF_Y)]), classes=10)
    assert cv.accuracy.family == REFERENCE and cv.accuracy.params[2] == pytest.approx(0.3, rel=0.01)
    assert cv.predict(100)["value"] == pytest.approx(float(_truth(0.3)(100.0)), abs=0.005)


def _reference_table(tmp_path):
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    x = np.arange(1.0, 9.0)
    (fit,) = fit_along((REF_X, REF_Y), {"fl": (x, _truth(0.4, 1.0)(x))}, start=0.1).values()
    fit.floor = 0.1
    path = tmp_path / "curves.csv"
    write_table(path, [Curve("fl", "fl", 768.0, fit, None, 8, 1, 0.6, 0.9)], scn)
    return fit, path


def test_a_reference_curve_round_trips_through_the_table(tmp_path):
    fit, path = _reference_table(tmp_path)
    cv, _ = read_table(path).find("fl", "fl")
    assert cv.accuracy.family == REFERENCE and np.array_equal(cv.accuracy.knots, fit.knots)
    for r in (1, 5, 20, 60):
        assert cv.predict(r)["value"] == pytest.approx(float(fit.mean(float(r))), abs=1e-12)
        assert cv.predict(r)["high"] == pytest.approx(float(fit.band(float(r))[1]), abs=1e-12)
    assert cv.rounds_to(0.8)["rounds"] == Curve("fl", "fl", 768.0, fit, None).rounds_to(0.8)["rounds"]


@pytest.mark.parametrize("knots", ["", "0:0.1;1:abc", "0:0.5;1:0.4", "1:0.1;1:0.2", "0:0.1"])
def test_bad_knots_name_the_line_and_column(tmp_path, knots):
    import csv
    _, path = _reference_table(tmp_path)
    with path.open() as f:
        header, row = list(csv.reader(f))[:2]
    row[header.index("knots")] = knots
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, row])
    want = "needs the column 'knots'" if not knots else "column 'knots': the reference run's curve as 'x:accuracy'"
    with pytest.raises(ScenarioError, match=rf"curves.csv:2: .*{want}"):
        read_table(path)


def test_a_hand_built_reference_curve_interpolates_its_knots_at_its_pace():
    fit = Fit(REFERENCE, np.array([0.9, 0.1, 0.5]), np.zeros((3, 3)), 0.0, knots=np.array([[0.0, 10.0], [0.1, 0.9]]))
    assert fit.mean(10.0) == pytest.approx(0.1 + 0.8 * 0.5)
    assert fit.first_reaching(0.5) == pytest.approx(10.0)


def test_gaps_in_a_log_are_skipped():
    x = np.arange(1.0, 9.0)
    y = _truth(0.4)(x)
    y[3] = np.nan
    ref_y = REF_Y.copy()
    ref_y[5] = np.nan
    (fit,) = fit_along((REF_X, ref_y), {"fl": (x, y)}, start=0.1).values()
    assert np.all(np.isfinite(fit.knots)) and fit.params[2] == pytest.approx(0.4, rel=0.02)


def test_the_band_widens_beyond_the_pilot_by_how_far_its_pace_moved():
    """A pilot whose last third runs faster than its first two thirds gets a pace drift and a band
    that widens with log progress past the pilot; a pilot at one pace gets none."""
    x = np.arange(1.0, 13.0)
    steady = _truth(0.3)(x)
    speeding = _truth(1.0)(np.where(x <= 8, 0.3 * x, 2.4 + 0.6 * (x - 8)))       # twice the pace after round 8
    (one,) = fit_along((REF_X, REF_Y), {"fl": (x, steady)}, start=0.1).values()
    (moved,) = fit_along((REF_X, REF_Y), {"fl": (x, speeding)}, start=0.1).values()
    assert one.drift == pytest.approx(0.0, abs=1e-3) and moved.drift > 0.05
    assert moved.std(12.0) == pytest.approx(moved.sigma, rel=0.2)           # no drift within the pilot
    w = [float(np.subtract(*moved.band(r)[::-1])) for r in (12.0, 24.0, 48.0)]
    assert w[0] < w[1]                                                       # wider the further it goes
    assert float(np.subtract(*one.band(48.0)[::-1])) < w[2]
