"""Learning curves: fitting, prediction, curve tables and their checks (planner.convergence,
planner.curves)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from edgeplan.convergence import Curve, Fit, FitError, fit_joint, fit_points
from edgeplan.curves import fingerprint, read_table, write_table
from edgeplan.errors import ScenarioError
from edgeplan.scenario import load_scenario

from .conftest import SCENARIOS, write

X = np.arange(1, 31, dtype=float)


@pytest.mark.parametrize("family, params", [("power", (0.97, 0.6, 0.8)), ("exp", (0.95, 0.8, 4.0))])
def test_fit_recovers_known_parameters_without_noise(family, params):
    truth = Fit(family, np.array(params), np.zeros((3, 3)), 0.0)
    fit = fit_points(X, truth.mean(X))
    assert fit.family == family
    np.testing.assert_allclose(fit.params, params, rtol=1e-4)
    assert fit.sigma < 1e-6


@pytest.mark.parametrize("family, params", [("power", (0.96, 0.7, 0.9)), ("exp", (0.93, 0.8, 5.0))])
def test_fit_recovers_known_parameters_with_noise(family, params):
    rng = np.random.default_rng(3)
    truth = Fit(family, np.array(params), np.zeros((3, 3)), 0.0)
    x = np.tile(X, 3)
    y = truth.mean(x) + rng.normal(0, 0.01, len(x))
    fit = fit_points(x, y)
    assert fit.family == family
    assert abs(fit.params[0] - params[0]) < 0.01            # the plateau within a point
    assert fit.sigma == pytest.approx(0.01, rel=0.3)        # the noise it was given
    lo, hi = fit.band(X)
    inside = np.mean((truth.mean(X) >= lo) & (truth.mean(X) <= hi))
    assert inside > 0.9                                     # the band covers the truth


def test_loss_curves_fall():
    truth = Fit("exp", np.array([0.1, 2.0, 4.0]), np.zeros((3, 3)), 0.0, sign=-1)
    fit = fit_points(X, truth.mean(X), sign=-1)
    assert fit.mean(100) == pytest.approx(0.1, abs=1e-3)
    assert fit.mean(2) > fit.mean(20)


def test_joint_fit_recovers_each_configurations_pace():
    """Configurations that learn the same task at different paces: the slow one's curve beyond
    its pilot comes from the fast one's, and a skewed configuration's plateau from its coverage."""
    master = Fit("exp", np.array([0.97, 0.9, 3.0]), np.zeros((3, 3)), 0.0)
    x = np.arange(1, 9, dtype=float)
    series = {"fast": (x, master.mean(x)), "slow": (x, master.mean(0.2 * x)),
              "skewed": (x, 0.5 * master.mean(0.5 * x))}
    fits = fit_joint(series, {"skewed": 0.5})
    assert fits["slow"].mean(40) == pytest.approx(master.mean(8), abs=2e-3)
    assert fits["skewed"].plateau == pytest.approx(0.485, abs=2e-3)
    assert fits["fast"].plateau == pytest.approx(0.97, abs=2e-3)


def test_a_configuration_that_learns_apart_keeps_its_own_plateau():
    """pel with several workers runs another algorithm (stale replicas) and levels off far lower:
    fitted apart, it keeps its plateau and leaves the others' shared one alone; held to theirs,
    both are wrong."""
    master = Fit("exp", np.array([0.97, 0.9, 3.0]), np.zeros((3, 3)), 0.0)
    stale = Fit("exp", np.array([0.6, 0.5, 4.0]), np.zeros((3, 3)), 0.0)
    x = np.arange(1, 9, dtype=float)
    series = {"fl": (x, master.mean(x)), "sl": (x, master.mean(0.3 * x)), "pel workers=3": (x, stale.mean(x))}
    apart = fit_joint(series, apart={"pel workers=3"})
    assert apart["pel workers=3"].mean(80) == pytest.approx(0.6, abs=0.02)
    assert apart["sl"].mean(80) == pytest.approx(master.mean(24), abs=2e-3)
    held = fit_joint(series)
    assert abs(held["pel workers=3"].mean(80) - 0.6) > 0.1


def test_pel_with_several_workers_learns_apart():
    from edgeplan.calibration import learns_apart
    assert learns_apart("pel", "pel workers=2") and not learns_apart("pel", "pel workers=1")
    assert not learns_apart("fl", "fl") and not learns_apart("fpl", "fpl j=2 groups=2")


def test_the_band_widens_by_how_far_the_pilot_missed_its_own_last_third():
    """A pilot whose late points leave the early trend (a learning curve that rises late) gets a
    drift, and its band at five times the pilot is wider by as much as the curve still rises;
    a pilot on its own trend keeps a narrow band."""
    x = np.tile(np.arange(1, 13, dtype=float), 2)
    smooth = Fit("exp", np.array([0.9, 0.8, 3.0]), np.zeros((3, 3)), 0.0)
    on_trend = fit_joint({"a": (x, smooth.mean(x)), "b": (x, smooth.mean(0.5 * x))})
    late = smooth.mean(x) + np.where(x > 8, 0.01 * (x - 8) ** 2, 0.0)       # rises again after round 8
    off = fit_joint({"a": (x, late), "b": (x, smooth.mean(0.5 * x))})
    assert on_trend["a"].drift < 1e-3 and off["a"].drift > 0.05
    assert on_trend["a"].x_end == 12.0
    f = off["a"]
    assert f.std(60.0) >= f.drift * abs(f.mean(60.0) - f.mean(12.0))      # as far off, per point it rises
    assert f.std(1e6) == pytest.approx(f.std(1e7), rel=1e-3)               # bounded: the rise ends
    lo0, hi0 = on_trend["a"].band(60.0)
    assert hi0 - lo0 < 0.05
    assert off["a"].std(6.0) == pytest.approx(Fit(**{**off["a"].__dict__, "drift": 0.0}).std(6.0))  # inside: no drift


def test_the_pessimistic_rounds_find_the_first_crossing_of_a_band_that_is_not_monotone():
    """A large drift makes the band's lower edge fall again beyond the pilot (x_end = 4): it
    crosses 0.6 near round 4 and ends below it; the crossing is what counts."""
    fit = Fit("exp", np.array([0.95, 0.85, 4.0]), np.zeros((3, 3)), 0.005, drift=0.8, x_end=4.0)
    xs = np.linspace(1, 200, 20000)
    lo = fit.band(xs)[0]
    assert lo[-1] < 0.6 <= lo.max()                           # not monotone
    first = xs[np.argmax(lo >= 0.6)]
    r = Curve("fl", "fl", 100.0, fit).rounds_to(0.6)
    assert r["slowest"] == int(np.ceil(first))
    assert r["fastest"] <= r["rounds"] <= r["slowest"]


def test_rounds_to_target_and_an_unreachable_target():
    fit = Fit("exp", np.array([0.95, 0.85, 4.0]), np.zeros((3, 3)), 0.0)
    cv = Curve("fl", "fl", 100.0, fit)
    x = -4.0 * np.log((0.95 - 0.9) / 0.85)              # where the curve crosses 0.9
    assert cv.rounds_to(0.9)["rounds"] == int(np.ceil(x))
    assert cv.rounds_to(0.9, samples_per_round=200.0)["rounds"] == int(np.ceil(x / 2))   # twice the pace
    assert cv.rounds_to(0.96)["rounds"] is None        # above the plateau
    assert cv.predict(10)["plateau"] == pytest.approx(0.95)


def test_a_fit_needs_four_rounds():
    with pytest.raises(FitError, match="at least 4 measured rounds, got 3; calibrate with --rounds 4"):
        fit_points([1, 2, 3], [0.2, 0.5, 0.6])
    with pytest.raises(FitError, match="at least 4 measured rounds"):
        fit_joint({"fl": (np.array([1, 2]), np.array([0.1, 0.2]))})
    # three rounds of one configuration fitted its three parameters exactly: a band of zero width
    with pytest.raises(FitError, match="at least 4 measured rounds, got 3"):
        fit_joint({"fl": (np.array([1, 2, 3]), np.array([0.2, 0.4, 0.5]))})
    fits = fit_joint({"fl": (np.array([1, 2, 3, 4]), np.array([0.2, 0.4, 0.5, 0.56]))})
    assert fits["fl"].plateau > 0.56


def test_the_centralised_ceiling_bounds_every_plateau():
    """A short pilot still rising extrapolates to a plateau near 100%; the accuracy the whole
    model reaches trained centrally bounds it (and a pilot already above it is held to it)."""
    x = np.arange(1.0, 7.0)
    truth = Fit("power", np.array([0.99, 0.8, 0.4]), np.zeros((3, 3)), 0.0)
    series = {"fl": (x, truth.mean(x)), "slow": (x, truth.mean(0.3 * x))}
    free = fit_joint(series)
    held = fit_joint(series, ceiling=0.9)
    assert free["fl"].plateau > 0.95
    assert held["fl"].plateau <= 0.9 + 1e-9 and held["slow"].plateau <= 0.9 + 1e-9
    assert held["slow"].mean(100.0) < free["slow"].mean(100.0)
    with pytest.raises(FitError, match="ceiling 1.5 is not in"):
        fit_joint(series, ceiling=1.5)


def test_curves_take_their_ceiling_from_the_centralised_reference_run(tmp_path):
    """Rows of paradigm 'centralised' are no curve: the mean of their second half bounds the
    plateaus, and the table keeps it."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, ceiling_of, fit_curves
    from edgeplan.errors import PlanError
    rounds = np.arange(1, 9)
    acc = 0.95 - 0.8 * np.exp(-rounds / 3.0)
    pilot = pd.DataFrame({"paradigm": "fl", "configuration": "fl", "seed": 0, "round": rounds[:5],
                          "samples": rounds[:5] * 100.0, "accuracy": acc[:5], "loss": np.nan, "coverage": 1.0})
    ref = pd.DataFrame({"paradigm": CENTRALISED, "configuration": CENTRALISED, "seed": 0, "round": rounds,
                        "samples": rounds * 100.0, "accuracy": [0.5, 0.6, 0.7, 0.8, 0.86, 0.88, 0.9, 0.86],
                        "loss": np.nan, "coverage": 1.0})
    assert ceiling_of(ref) == pytest.approx(0.875)            # rounds 5-8
    assert np.isnan(ceiling_of(pilot))
    (cv,) = fit_curves(pd.concat([pilot, ref]))
    assert cv.configuration == "fl" and cv.ceiling == pytest.approx(0.875)
    assert cv.accuracy.plateau <= 0.875 + 1e-9
    (free,) = fit_curves(pilot)
    assert np.isnan(free.ceiling) and free.accuracy.plateau > 0.9
    scn = load_scenario(_curves_scenario(tmp_path))
    write_table(tmp_path / "curves.csv", [cv], scn)
    back, _ = read_table(tmp_path / "curves.csv").find("fl", "fl")
    assert back.ceiling == pytest.approx(0.875)
    with pytest.raises(PlanError, match="only the centralised reference run"):
        fit_curves(ref)




def test_fl_and_psl_follow_the_reference_runs_curve_at_their_own_pace():
    """fl (and psl) head for what centralised training reaches: fitted with the reference run's
    curve, a slow 6-round pilot moves along that curve at its own pace and lands where the truth
    does. Other paradigms keep their own fit; without the reference run fl shares a plateau with
    them and sl's, far lower, holds it down."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, fit_curves, follows_reference
    truth = Fit("exp", np.array([0.95, 0.85, 3.0]), np.zeros((3, 3)), 0.0)    # the centralised curve
    ref_rounds, rounds = np.arange(1.0, 41.0), np.arange(1.0, 7.0)

    def rows(par, x, acc):
        return pd.DataFrame({"paradigm": par, "configuration": par, "seed": 0, "round": x, "samples": 100.0 * x,
                             "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    ref = rows(CENTRALISED, ref_rounds, truth.mean(ref_rounds))
    fl = rows("fl", rounds, truth.mean(0.1 * rounds))                   # a tenth of the pace
    sl = rows("sl", rounds, 0.5 - 0.3 * np.exp(-rounds / 2.0))           # levels off at 50%: its own
    curves = {c.configuration: c for c in fit_curves(pd.concat([fl, sl, ref]))}
    assert curves["fl"].predict(100)["value"] == pytest.approx(float(truth.mean(10.0)), abs=0.01)
    assert curves["fl"].accuracy.plateau == pytest.approx(0.95, abs=0.01)
    assert curves["sl"].accuracy.plateau < 0.6
    shared = {c.configuration: c for c in fit_curves(pd.concat([fl, sl]))}     # no reference run
    assert shared["fl"].predict(100)["value"] < float(truth.mean(10.0)) - 0.1   # sl's plateau held it down
    assert follows_reference("fl") and follows_reference("psl") and not follows_reference("sl")
    (short,) = fit_curves(pd.concat([fl, ref[ref["round"] <= 2]]))         # too short to shape: it only bounds
    assert short.accuracy.plateau <= float(ref.accuracy.iloc[1]) + 1e-9
def test_on_iid_data_sl_follows_the_reference_run_and_still_shapes_the_others():
    """On IID devices sl is SGD on samples of the pooled data: a short pilot at a fifth of the
    reference's pace lands where the reference does; on non-IID data it keeps the joint fit.
    The others' joint fit is the same either way (sl's pilot stays in it)."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, fit_curves, follows_reference, shapes_others
    truth = Fit("exp", np.array([0.92, 0.8, 4.0]), np.zeros((3, 3)), 0.0)
    ref_rounds, rounds = np.arange(1.0, 41.0), np.arange(1.0, 7.0)

    def rows(par, x, acc):
        return pd.DataFrame({"paradigm": par, "configuration": par, "seed": 0, "round": x, "samples": 100.0 * x,
                             "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    pts = pd.concat([rows(CENTRALISED, ref_rounds, truth.mean(ref_rounds)), rows("sl", rounds, truth.mean(0.2 * rounds)),
                     rows("dsgd", rounds, 0.6 - 0.5 * np.exp(-rounds / 2.0))])         # its own, lower level
    iid = {c.configuration: c for c in fit_curves(pts, iid=True)}
    skewed = {c.configuration: c for c in fit_curves(pts)}
    assert iid["sl"].predict(60)["value"] == pytest.approx(float(truth.mean(12.0)), abs=0.01)
    assert skewed["sl"].predict(60)["value"] < float(truth.mean(12.0)) - 0.1       # dsgd's level holds it down
    assert iid["dsgd"].predict(60)["value"] == pytest.approx(skewed["dsgd"].predict(60)["value"], abs=1e-9)
    assert follows_reference("sl", iid=True) and not follows_reference("sl") and not follows_reference("dsgd", True)
    assert shapes_others("sl") and not shapes_others("fl")


def test_dsgd_follows_the_reference_run_on_its_own_shard():
    """dsgd trains on one device's data: its curve follows the centralised run on that shard (here
    levelling off at 80% where the pooled data reaches 95%), not the plateau it shares with the
    others nor the pooled reference's. Without the shard's run it keeps the joint fit; the
    others' curves are the same either way."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, data_reference, fit_curves
    pooled = Fit("exp", np.array([0.95, 0.85, 3.0]), np.zeros((3, 3)), 0.0)
    shard = Fit("exp", np.array([0.80, 0.70, 3.0]), np.zeros((3, 3)), 0.0)
    ref_rounds, rounds = np.arange(1.0, 41.0), np.arange(1.0, 7.0)

    def rows(par, x, acc, conf=None):
        return pd.DataFrame({"paradigm": par, "configuration": conf or par, "seed": 0, "round": x,
                             "samples": 100.0 * x, "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    pts = pd.concat([rows(CENTRALISED, ref_rounds, pooled.mean(ref_rounds)),
                     rows("sl", rounds, pooled.mean(0.5 * rounds)),
                     rows("dsgd", rounds, shard.mean(0.5 * rounds))])
    own = rows(CENTRALISED, ref_rounds, shard.mean(ref_rounds), data_reference("dsgd"))
    with_own = {c.configuration: c for c in fit_curves(pd.concat([pts, own]))}
    without = {c.configuration: c for c in fit_curves(pts)}
    assert with_own["dsgd"].predict(60)["value"] == pytest.approx(float(shard.mean(30.0)), abs=0.01)
    assert without["dsgd"].predict(60)["value"] > float(shard.mean(30.0)) + 0.05     # the others' plateau lifts it
    assert with_own["sl"].predict(60)["value"] == pytest.approx(without["sl"].predict(60)["value"], abs=1e-9)
    assert with_own["dsgd"].ceiling == pytest.approx(0.95, abs=0.01)                # the pooled run still bounds
    assert {c.configuration for c in fit_curves(pd.concat([pts, own]))} == {"sl", "dsgd"}    # no curve of its own


def test_a_configuration_that_is_sgd_on_its_own_data_takes_that_runs_curve():
    """dsgd and pel with one worker are SGD on their reference run's data, step for step: their
    curve is that run's at the same samples seen. A pilot that sat near chance for its four rounds
    (two of three seeds of pel's on digits IID did) no longer slows the pace of the whole curve;
    fpl's groups, another algorithm beside their runs, still move at a pace of their own."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, data_reference, fit_curves, same_as_own
    pooled = Fit("exp", np.array([0.95, 0.85, 3.0]), np.zeros((3, 3)), 0.0)
    shard = Fit("exp", np.array([0.90, 0.80, 6.0]), np.zeros((3, 3)), 0.0)
    ref_rounds, rounds = np.arange(1.0, 41.0), np.arange(1.0, 5.0)
    flat = np.array([0.10, 0.11, 0.10, 0.12])

    def rows(par, x, acc, conf=None):
        return pd.DataFrame({"paradigm": par, "configuration": conf or par, "seed": 0, "round": x,
                             "samples": 100.0 * x, "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    pts = [rows(CENTRALISED, ref_rounds, pooled.mean(ref_rounds)), rows("sl", rounds, pooled.mean(rounds))]
    for par, conf in [("pel", "pel workers=1"), ("dsgd", "dsgd"), ("fpl", "fpl j=2 groups=2")]:
        pts += [rows(par, rounds, flat, conf), rows(CENTRALISED, ref_rounds, shard.mean(ref_rounds), data_reference(conf))]
    curves = {c.configuration: c for c in fit_curves(pd.concat(pts))}
    for conf in ("pel workers=1", "dsgd"):
        assert curves[conf].predict(20)["value"] == pytest.approx(float(shard.mean(20.0)), abs=0.02), conf
    assert curves["fpl j=2 groups=2"].predict(20)["value"] < float(shard.mean(20.0)) - 0.1
    assert same_as_own("dsgd", "dsgd") and same_as_own("pel", "pel workers=1")
    # a pilot round of twice the run's samples is two of the run's rounds
    pts[4] = rows("dsgd", rounds, shard.mean(2 * rounds), "dsgd").assign(samples=200.0 * rounds)
    curves = {c.configuration: c for c in fit_curves(pd.concat(pts))}
    assert curves["dsgd"].predict(10)["value"] == pytest.approx(float(shard.mean(20.0)), abs=0.02)
    assert not same_as_own("pel", "pel workers=2") and not same_as_own("fpl", "fpl j=2 groups=2")


def test_fpl_on_iid_data_heads_between_its_groups_runs_and_the_pooled_run():
    """On IID data fpl's shared trunk learns from every device's samples as the pooled run does and
    its groups' private parts from their own, as the groups' runs do: its curve follows the blend of
    the two runs, weighted by the share of the parameters kept private. On skewed data (or without
    the share) it follows its groups' runs alone; a run the two do not share rounds of is no blend."""
    import pandas as pd
    from edgeplan.calibration import CENTRALISED, blended_run, data_reference, fit_curves
    pooled = Fit("exp", np.array([0.95, 0.85, 3.0]), np.zeros((3, 3)), 0.0)
    groups = Fit("exp", np.array([0.80, 0.70, 3.0]), np.zeros((3, 3)), 0.0)
    ref_rounds, rounds = np.arange(1.0, 41.0), np.arange(1.0, 7.0)
    conf, w = "fpl j=2 groups=2", 0.4

    def blend(x):
        return w * groups.mean(x) + (1 - w) * pooled.mean(x)

    def rows(par, x, acc, c=None):
        return pd.DataFrame({"paradigm": par, "configuration": c or par, "seed": 0, "round": x,
                             "samples": 100.0 * x, "accuracy": acc, "loss": np.nan, "coverage": 1.0})
    pts = pd.concat([rows(CENTRALISED, ref_rounds, pooled.mean(ref_rounds)),
                     rows(CENTRALISED, ref_rounds, groups.mean(ref_rounds), data_reference(conf)),
                     rows("sl", rounds, pooled.mean(rounds)), rows("fpl", rounds, blend(0.5 * rounds), conf)])
    iid = {c.configuration: c for c in fit_curves(pts, iid=True, private={conf: w})}
    assert iid[conf].predict(60)["value"] == pytest.approx(float(blend(30.0)), abs=0.01)
    assert iid[conf].meta == {"follows": data_reference(conf), "private": w}
    for skewed in (fit_curves(pts, private={conf: w}), fit_curves(pts, iid=True)):
        (cv,) = [c for c in skewed if c.configuration == conf]
        assert cv.predict(60)["value"] < float(blend(30.0)) - 0.05 and "private" not in cv.meta
    own = pts[pts.configuration == data_reference(conf)]
    assert blended_run(own, pts[pts.configuration == CENTRALISED].assign(seed=1), w) is None    # no seed in common


def _curves_scenario(tmp_path, extra: str = "") -> str:
    text = (SCENARIOS / "digits-small.yaml").read_text()
    text = text.replace("dataset: digits}", f"dataset: digits, convergence: curves.csv{extra}}}")
    return write(tmp_path, text, "s.yaml")


def _table(scn, path):
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01)
    write_table(path, [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.9)], scn)


def test_curve_tables_round_trip_and_predict(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path, ", target_accuracy: 0.95"))
    _table(scn, tmp_path / "curves.csv")
    table = read_table(tmp_path / "curves.csv")
    assert table.fingerprint == fingerprint(scn)
    cv, how = table.find("fl", "fl")
    assert how == "" and cv.accuracy.params[2] == 3.0
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    plan = paradigms.get("fl").solve(CostModel(scn))
    pr = plan.predicted
    assert pr["accuracy"]["value"] == pytest.approx(0.97 - 0.9 * np.exp(-20 / 3.0), abs=1e-9)
    assert pr["rounds_to_target"] == int(np.ceil(-3.0 * np.log(0.02 / 0.9)))
    assert pr["time_to_target_s"] == pytest.approx(pr["rounds_to_target"] * pr["round_latency_s"])
    from edgeplan.planfile import Plan
    again = Plan.from_dict(__import__("json").loads(plan.to_json()))
    assert again.predicted["accuracy"] == pr["accuracy"]


def test_curve_tables_keep_the_drift_and_lag_and_read_older_tables_without_them(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path))
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01, drift=0.04, x_end=6.0, lag=1.5)
    write_table(tmp_path / "curves.csv", [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.9)], scn)
    cv, _ = read_table(tmp_path / "curves.csv").find("fl", "fl")
    assert (cv.accuracy.drift, cv.accuracy.x_end, cv.accuracy.lag) == (0.04, 6.0, 1.5)
    assert cv.predict(20)["value"] == pytest.approx(float(fit.mean(20.0)), abs=1e-12)
    lines = (tmp_path / "curves.csv").read_text().splitlines()     # a table written before the columns
    old = "\n".join(",".join(line.split(",")[:-6]) for line in lines) + "\n"    # drift ... unpredictable, knots
    (tmp_path / "old.csv").write_text(old)
    cv, _ = read_table(tmp_path / "old.csv").find("fl", "fl")
    assert (cv.accuracy.drift, cv.accuracy.x_end, cv.accuracy.lag) == (0.0, 0.0, 0.0) and np.isnan(cv.ceiling)


def test_a_curve_too_shallow_to_reach_the_target_in_any_horizon_is_out_of_reach():
    """A power law with c at its lower bound (1e-3) put (b / (a - target)) ** (1 / c) at infinity and
    the rounds to the target crashed (OverflowError: cannot convert float infinity to integer);
    found by bench_accuracy on other seeds' 40% pilots."""
    import warnings

    shallow = Fit("power", np.array([0.5, 0.45, 1e-3]), np.zeros((3, 3)), 0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                    # no overflow warning on the console either
        assert shallow.first_reaching(0.49) == math.inf
        cv = Curve("fl", "fl", 64.0, shallow, None, 8, 1, 0.2, 1.0)
        assert cv.rounds_to(0.49)["rounds"] is None
    assert Fit("power", np.array([0.5, 0.45, 1.0]), np.zeros((3, 3)), 0.0).first_reaching(0.49) == pytest.approx(45.0)
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.tables import plan_summary
    plan = paradigms.get("fl").solve(CostModel(load_scenario(SCENARIOS / "digits-small.yaml")))
    plan.predicted.update(target_accuracy=0.49, rounds_to_target=None, unreachable={"plateau": 0.5, "target": 0.49})
    said = " ".join(plan_summary(plan))
    assert "target 49%: not reached within 10,000,000 rounds (the curve creeps towards its plateau at 50.0%)" in said


def test_a_lagged_curve_holds_its_first_level_then_follows_its_family():
    """x up to the first round as it is, then less the lag: the rounds to a target come the lag
    later, and a joint fit finds the lag of a configuration that starts late."""
    from edgeplan.convergence import fit_joint
    plain = Fit("exp", np.array([0.95, 0.85, 2.0]), np.zeros((3, 3)), 0.0)
    late = Fit("exp", np.array([0.95, 0.85, 2.0]), np.zeros((3, 3)), 0.0, lag=1.5)
    assert late.mean(0.5) == plain.mean(0.5) and late.mean(2.5) == plain.mean(1.0)
    assert late.mean(7.5) == pytest.approx(float(plain.mean(6.0)), abs=1e-12)
    assert late.first_reaching(0.9) == pytest.approx(plain.first_reaching(0.9) + 1.5, abs=1e-12)
    x = np.arange(1.0, 13.0)
    shape = Fit("exp", np.array([0.9, 0.8, 3.0]), np.zeros((3, 3)), 0.0)
    slow = Fit("exp", np.array([0.9, 0.8, 6.0]), np.zeros((3, 3)), 0.0, lag=2.0)     # half the pace, 2 rounds late
    fits = fit_joint({"fast": (x, shape.mean(x)), "slow": (x, slow.mean(x))})
    assert fits["fast"].lag == 0.0 and fits["slow"].lag == pytest.approx(2.0, abs=0.05)
    assert fits["slow"].mean(40.0) == pytest.approx(float(slow.mean(40.0)), abs=2e-3)


def test_unreachable_target_is_a_value_not_a_crash(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path, ", target_accuracy: 0.99"))
    _table(scn, tmp_path / "curves.csv")
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    pr = paradigms.get("fl").solve(CostModel(scn)).predicted
    assert pr["rounds_to_target"] is None and pr["time_to_target_s"] is None
    assert pr["unreachable"] == {"plateau": pytest.approx(0.97), "target": 0.99}
    sl = paradigms.get("sl").solve(CostModel(scn)).predicted          # no curve: said, not crashed
    assert sl["accuracy"]["value"] is None and "no curve for 'sl'" in sl["accuracy"]["why"]


def test_compare_shows_the_rounds_bands_and_which_paradigms_have_no_curve(tmp_path):
    """A paradigm without a curve read 'never' (as if its curve could not reach the target) and
    its plan 'not reached (the curve levels off at )'."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn_file = str(_curves_scenario(tmp_path, ", target_accuracy: 0.95"))
    _table(load_scenario(scn_file), tmp_path / "curves.csv")
    r = CliRunner().invoke(app, ["compare", scn_file, "-p", "fl", "-p", "sl"])
    assert r.exit_code == 0, r.output
    fl = next(line for line in r.output.splitlines() if line.startswith("fl "))
    sl = next(line for line in r.output.splitlines() if line.startswith("sl "))
    assert f"{int(np.ceil(-3.0 * np.log(0.02 / 0.9)))} (" in fl and "no curve" in sl
    assert "not ranked, no curve in training.convergence: sl" in r.output
    r = CliRunner().invoke(app, ["compare", scn_file, "-p", "fl", "--format", "csv"])
    assert "rounds_to_target_fastest,rounds_to_target_slowest" in r.output
    r = CliRunner().invoke(app, ["plan", scn_file, "-p", "sl"])
    assert "target 95%: not predicted (no curve)" in r.output
    assert "curves.csv has no curve for 'sl' (it has fl)\n`edgeplan calibrate -p sl --resume` into the same " \
        "--out adds it\n" in r.output, r.output
    # planned for the time to target, a paradigm without a curve cannot be planned: not 'infeasible'
    with open(scn_file, "a") as f:
        f.write("objective: time_to_target\n")
    r = CliRunner().invoke(app, ["compare", scn_file, "-p", "fl", "-p", "sl"])
    sl = next(line for line in r.output.splitlines() if line.startswith("sl "))
    assert r.exit_code == 0 and sl.split()[-2:] == ["not", "planned"], r.output


def test_a_target_without_curves_compares_per_epoch_and_says_how_to_get_them(tmp_path):
    """A target alone predicts nothing: compare had shown 'no curve' in every row, unranked, and
    plan had said nothing of the target."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    text = (SCENARIOS / "digits-small.yaml").read_text().replace("dataset: digits}",
                                                                  "dataset: digits, target_accuracy: 0.9}")
    scn_file = str(write(tmp_path, text, "s.yaml"))
    r = CliRunner().invoke(app, ["compare", scn_file])
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert "time/epoch" in r.output and "no curve" not in r.output.split("an epoch is")[0]
    assert f"target 90%: not predicted, the scenario names no learning curves (training.convergence); " \
           f"`edgeplan calibrate {scn_file} --out curves.csv` measures them" in said
    lines = r.output.splitlines()
    rows = lines[next(i for i, line in enumerate(lines) if line.startswith("─")) + 1:][:6]
    assert len(rows) == 6 and rows[0].split()[0] == "dsgd"     # ranked by time per epoch (dsgd's the least here)
    for args in (["plan", scn_file, "-p", "fl"], ["sweep", scn_file, "--vary", "channels.wlan.bandwidth=5MHz"],
                 ["check", scn_file]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and "target 90%: not predicted, the scenario names no learning curves" in \
            " ".join(r.output.split()), r.output


def test_a_table_for_another_data_set_is_refused(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path))
    _table(scn, tmp_path / "curves.csv")
    other = load_scenario(write(tmp_path, (tmp_path / "s.yaml").read_text().replace("dataset: digits",
                                                                                    "dataset: mnist1d"), "o.yaml"))
    from edgeplan.curves import curves_for
    with pytest.raises(ScenarioError, match=r"o.yaml:\d+: training.convergence: curves.csv was calibrated for a "
                                            r"different data set \(training.dataset\): 'digits' there, 'mnist1d' "
                                            r"here; re-run `edgeplan calibrate`"):
        curves_for(other)


def test_a_table_for_another_split_is_refused(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path))
    _table(scn, tmp_path / "curves.csv")
    text = (tmp_path / "s.yaml").read_text().replace("dataset: digits,", "dataset: digits, iid: false,")
    from edgeplan.curves import curves_for
    with pytest.raises(ScenarioError, match="calibrated for a different data split"):
        curves_for(load_scenario(write(tmp_path, text, "o.yaml")))


def test_a_missing_table_names_the_field_and_the_fix(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path, ", target_accuracy: 0.9"))
    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    with pytest.raises(ScenarioError, match=r"training.convergence: file 'curves.csv' not found .*edgeplan "
                                            r"calibrate .* --out curves.csv"):
        paradigms.get("fl").solve(CostModel(scn))
    from edgeplan.cli import app
    from typer.testing import CliRunner
    r = CliRunner().invoke(app, ["check", str(tmp_path / "s.yaml")])      # check said 'ok' and plan failed
    assert r.exit_code == 2 and "training.convergence: file 'curves.csv' not found" in r.output, r.output
    _table(scn, tmp_path / "curves.csv")
    r = CliRunner().invoke(app, ["check", str(tmp_path / "s.yaml")])
    assert r.exit_code == 0 and "accuracy: target 90%; learning curves curves.csv: fl" in r.output, r.output


@pytest.mark.parametrize("target", ["0", "1.5", "-0.2"])
def test_targets_outside_zero_one_are_refused(tmp_path, target):
    with pytest.raises(ScenarioError, match=r"training.target_accuracy: "):
        load_scenario(_curves_scenario(tmp_path, f", target_accuracy: {target}"))


def test_time_to_target_needs_a_target(tmp_path):
    text = (SCENARIOS / "digits-small.yaml").read_text() + "objective: time_to_target\n"
    with pytest.raises(ScenarioError, match=r"objective: objective 'time_to_target' needs training.target_accuracy"):
        load_scenario(write(tmp_path, text))


def test_corrupt_tables_name_the_line_and_column(tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("paradigm,configuration\nfl,fl\n")
    with pytest.raises(ScenarioError, match=r"c.csv:1: header lacks column\(s\) metric"):
        read_table(p)
    scn = load_scenario(SCENARIOS / "digits-small.yaml")
    _table(scn, p)
    lines = p.read_text().splitlines()
    lines[1] = lines[1].replace(",exp,0.97,", ",exp,abc,")
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ScenarioError, match=r"c.csv:2: column 'a': 'abc' is not a number"):
        read_table(p)


def test_a_sweep_point_the_curves_were_not_made_for_is_invalid_not_the_end_of_the_sweep(tmp_path):
    """Sweeping the batch size under learning curves: the points at another batch size ended the
    whole sweep with the curve table's fingerprint error."""
    from edgeplan.whatif import sweep
    path = _curves_scenario(tmp_path, ", target_accuracy: 0.9")
    _table(load_scenario(path), tmp_path / "curves.csv")
    with open(path, "a") as f:                 # planned for the time to target (a plain objective plans the
        f.write("objective: time_to_target\n")  # point and says why it has no accuracy)
    scn = load_scenario(path)
    res = sweep(scn, [("training.batch_size", [16, 32])], ["fl"], "optimal", workers=1)
    t = res.table.set_index("training.batch_size")
    assert t.loc[16, "status"] == "invalid" and "calibrated for a different training" in t.loc[16, "why"]
    assert t.loc[32, "feasible"] and t.loc[32, "time_to_target_s"] > 0


def test_a_curve_reads_in_one_line():
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.zeros((3, 3)), 0.01)
    cv = Curve("fl", "fl", 768.0, fit, None, 6, 1, 0.575, 0.978)
    assert repr(cv) == ("Curve(fl: exp, plateau 97.0%, bounded by 97.8%; 6 rounds x 1 seed measured, 57.5% at the "
                        "last; .predict(rounds), .rounds_to(target))")


def test_a_series_that_spans_the_horizon_takes_the_family_that_fits_it_best():
    """A reference run as long as the training (dsgd's on its shard) is interpolated, not
    extrapolated: the family that fits it best (AICc), no drift. The holdout meant for short
    pilots let a late step of two points (the wiggles of three seeds) pick the power law, whose
    plateau ran up to the ceiling: mnist1d Dirichlet 0.3, dsgd to 55% in 35 rounds predicted,
    26 measured; 26 with the best fit."""
    rng = np.random.default_rng(0)
    x = np.tile(np.arange(1.0, 121.0), 3)
    y = 0.61 - 0.47 * np.exp(-x / 12.0) + 0.02 * (x > 85) + rng.normal(0, 0.015, x.size)
    pilot = fit_joint({"d": (x, y)}, {"d": 1.0}, ceiling=0.835)["d"]
    run = fit_joint({"d": (x, y)}, {"d": 1.0}, ceiling=0.835, extrapolates=False)["d"]
    assert pilot.family == "power" and run.family == "exp" and run.drift == 0.0
    assert run.first_reaching(0.55) == pytest.approx(12 * np.log(0.47 / 0.06), abs=1.5)
    assert pilot.first_reaching(0.55) > run.first_reaching(0.55) + 3


def test_pel_curves_fall_back_by_workers_never_across_downloads(tmp_path):
    scn = load_scenario(_curves_scenario(tmp_path))
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01)
    confs = ["pel workers=1", "pel workers=3", "pel workers=4 download=model"]
    write_table(tmp_path / "c.csv", [Curve("pel", c, 768.0, fit, None, 6, 2, 0.9) for c in confs], scn)
    table = read_table(tmp_path / "c.csv")
    assert table.find("pel", "pel workers=3")[1] == ""
    assert "'pel workers=3'" in table.find("pel", "pel workers=4")[1]            # nearest, same download
    assert "'pel workers=4 download=model'" in table.find("pel", "pel workers=2 download=model")[1]
    table.curves.pop(("pel", "pel workers=4 download=model"))
    assert "'pel workers=1'" in table.find("pel", "pel workers=3 download=model")[1]   # one worker: alike


def test_the_calibration_plot_draws_curves_that_coincide_once_under_both_names():
    """fl and psl train alike: psl's line hid fl's, whose legend entry then named nothing seen."""
    import pandas as pd
    from edgeplan.reports import _alike
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01)
    other = Fit("exp", np.array([0.95, 0.9, 2.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01)
    curves = [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.9), Curve("psl", "psl", 768.0, fit, None, 6, 2, 0.9),
              Curve("sl", "sl", 768.0, other, None, 6, 2, 0.9)]
    pts = pd.DataFrame({"configuration": ["fl", "psl", "sl"] * 2, "round": [1, 1, 1, 2, 2, 2],
                        "accuracy": [0.3, 0.3, 0.4, 0.5, 0.5, 0.6]})
    mean = pts.groupby(["configuration", "round"]).accuracy.mean()
    assert _alike(curves, mean, np.arange(1, 21)) == {"fl": ["fl", "psl"], "sl": ["sl"]}
    pts.loc[4, "accuracy"] = 0.55                       # psl's pilot differs: drawn apart
    mean = pts.groupby(["configuration", "round"]).accuracy.mean()
    assert _alike(curves, mean, np.arange(1, 21)) == {"fl": ["fl"], "psl": ["psl"], "sl": ["sl"]}


def test_no_accuracy_is_predicted_below_chance(tmp_path):
    """A steep fit through a pilot's first rounds dipped below chance at round 1 (bench_accuracy:
    dsgd 4.5%, pel with one worker 3.2% for ten classes); the table's model names its classes."""
    scn = load_scenario(_curves_scenario(tmp_path, ", target_accuracy: 0.05"))
    assert scn.spec.model.num_classes == 10
    fit = Fit("exp", np.array([0.95, 1.2, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01)
    assert float(fit.mean(1.0)) < 0.1                       # the family itself: below chance
    write_table(tmp_path / "curves.csv", [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.9)], scn)
    cv, _ = read_table(tmp_path / "curves.csv").find("fl", "fl")
    assert cv.accuracy.floor == pytest.approx(0.1)
    assert cv.predict(1)["value"] == pytest.approx(0.1)
    assert cv.predict(20)["value"] == pytest.approx(float(fit.mean(20.0)))     # above it: the family's
    assert cv.rounds_to(0.05)["rounds"] == 1                 # chance reaches a target below it
    assert cv.rounds_to(0.9)["rounds"] == int(np.ceil(-3.0 * np.log(0.05 / 1.2)))
    low = Fit("exp", np.array([0.07, 0.05, 3.0]), np.zeros((3, 3)), 0.01, floor=0.1)
    assert low.plateau == pytest.approx(0.1) and low.first_reaching(0.2) is None


def _pilot(conf: str, acc, paradigm: str | None = None):
    import pandas as pd
    return pd.DataFrame({"paradigm": paradigm or conf.split()[0], "configuration": conf, "seed": 0,
                         "round": np.arange(1, len(acc) + 1), "accuracy": acc, "samples": 768.0 * np.arange(1, len(acc) + 1)})


def test_a_pilot_still_at_chance_foresees_nothing():
    """sl on digits Dirichlet 0.3 sat at 10% through its four pilot rounds, then stayed at chance
    to the end on five of ten seeds and rose to 18-91% on five: such a curve is an envelope from
    chance to the top, not a guess; a pilot that left chance is a curve."""
    import pandas as pd
    from edgeplan.calibration import fit_curves
    rise = 0.95 - 0.85 * np.exp(-np.arange(1, 7) / 3.0)
    flat = np.array([0.10, 0.10, 0.11, 0.10, 0.12, 0.10])
    curves = {c.configuration: c for c in fit_curves(pd.concat([_pilot("fl", rise), _pilot("sl", flat)]), classes=10)}
    assert "its pilot stayed at chance (11% over rounds 4-6)" in curves["sl"].unpredictable
    assert "`edgeplan calibrate --resume --rounds 12` goes on from where it ended" in curves["sl"].unpredictable
    assert curves["sl"].predict(20)["value"] is None and curves["sl"].rounds_to(0.5)["rounds"] is None
    assert not curves["fl"].unpredictable and curves["fl"].predict(20)["value"] > 0.9
    assert curves["fl"].accuracy.plateau == pytest.approx(0.95, abs=0.01)     # the flat pilot shapes nothing
    slow = np.array([0.10, 0.11, 0.13, 0.15, 0.17, 0.19])                   # late, but it left chance
    (cv,) = fit_curves(_pilot("sl", slow), classes=10)
    assert not cv.unpredictable
    (cv,) = fit_curves(_pilot("sl", flat))                                   # chance unknown: no such judgement
    assert not cv.unpredictable


def test_pel_with_several_workers_is_unpredictable_unless_each_round_is_one_sgd_step():
    import pandas as pd
    from edgeplan.calibration import fit_curves
    rise = 0.9 - 0.8 * np.exp(-np.arange(1, 7) / 4.0)
    pts = pd.concat([_pilot("pel workers=1", rise, "pel"), _pilot("pel workers=2", rise, "pel"),
                     _pilot("pel workers=2 download=model", rise, "pel")])
    for tau, sgd in ((8, False), (1, True)):
        curves = {c.configuration: c for c in fit_curves(pts, classes=10, local_iterations=tau)}
        assert not curves["pel workers=1"].unpredictable
        assert "stale values" in curves["pel workers=2"].unpredictable
        assert bool(curves["pel workers=2 download=model"].unpredictable) is not sgd


def test_an_unpredictable_curve_round_trips_and_its_plan_says_so(tmp_path):
    """The table keeps why; a plan gives the envelope and no time to the target; one worker's
    curve stands in for several workers' only where their round is one SGD step."""
    scn = load_scenario(_curves_scenario(tmp_path, ", target_accuracy: 0.9"))
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01, floor=0.1)
    why = "its pilot stayed at chance (10% over rounds 3-6): when it starts, if ever, cannot be told from it"
    write_table(tmp_path / "curves.csv", [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.1, 0.98, unpredictable=why),
                                          Curve("pel", "pel workers=1", 768.0, fit, None, 6, 2, 0.9, 0.98)], scn)
    table = read_table(tmp_path / "curves.csv")
    assert table.find("fl", "fl")[0].unpredictable == why
    import json

    from edgeplan import paradigms
    from edgeplan.costs import CostModel
    from edgeplan.jsonio import dumps
    pr = paradigms.get("fl").solve(CostModel(scn)).predicted
    assert pr["accuracy"]["value"] is None and pr["accuracy"]["why"] == why
    assert (pr["accuracy"]["low"], pr["accuracy"]["high"]) == (pytest.approx(0.07), pytest.approx(0.98))
    assert pr["rounds_to_target"] is None and pr["time_to_target_s"] is None and pr["unpredictable"] == why
    assert json.loads(dumps(pr))["accuracy"]["why"] == why
    several, how = table.find("pel", "pel workers=3")            # tau=8 in digits-small: not one SGD step
    assert "stale values" in several.unpredictable and "'pel workers=1'" in how
    assert not table.find("pel", "pel workers=1")[0].unpredictable
    write_table(tmp_path / "three.csv", [Curve("pel", "pel workers=3", 768.0, fit, None, 6, 2, 0.1, 0.98,
                                               unpredictable="stale")], scn)
    one, why = read_table(tmp_path / "three.csv").find("pel", "pel workers=1")
    assert one is None and "no curve for 'pel workers=1' (its pel curves: pel workers=3)" in why


def test_compare_plan_and_sweep_name_an_unpredictable_curve(tmp_path):
    """Not 'no curve' and not 'never': the envelope, and why it cannot be ranked."""
    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn_file = str(_curves_scenario(tmp_path, ", target_accuracy: 0.9"))
    scn = load_scenario(scn_file)
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01, floor=0.1)
    write_table(tmp_path / "curves.csv", [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.1, 0.98, unpredictable="why not"),
                                          Curve("sl", "sl", 768.0, fit, None, 6, 2, 0.9, 0.98)], scn)
    r = CliRunner().invoke(app, ["compare", scn_file, "-p", "fl", "-p", "sl"])
    said = " ".join(r.output.split())
    fl = next(line for line in r.output.splitlines() if line.startswith("fl "))
    assert r.exit_code == 0 and fl.split()[-4:] == ["7-98%", "unpredictable", "-", "-"], r.output
    assert "not ranked, no pilot foresees its curve" in said and "validate` measures it): fl" in said
    r = CliRunner().invoke(app, ["plan", scn_file, "-p", "fl"])
    said = " ".join(r.output.split())
    assert "accuracy after 20 rounds: unpredictable, between 7.0% and 98.0%: why not" in said
    assert "target 90%: not predicted (unpredictable)" in said
    r = CliRunner().invoke(app, ["sweep", scn_file, "--vary", "training.learning_rate=0.05", "-p", "fl,sl",
                                 "--methods", "optimal", "--out", str(tmp_path / "sw"), "--workers", "1"])
    said = " ".join(r.output.split())
    assert r.exit_code == 0 and "no pilot foresees its curve" in said and "validate` measures it): fl" in said, r.output
    assert "no curve in training.convergence" not in said
    r = CliRunner().invoke(app, ["capacity", scn_file, "-p", "fl", "--target", "time_to_target_s=30", "--vary",
                                 "channels.wlan.bandwidth"])
    assert r.exit_code == 2 and "--target time_to_target_s: fl's accuracy is unpredictable: why not" in r.output, \
        r.output


def test_validate_sets_the_measured_accuracy_against_an_unpredictable_curves_envelope(tmp_path):
    import json

    from edgeplan.cli import app
    from typer.testing import CliRunner
    scn_file = str(_curves_scenario(tmp_path, ", target_accuracy: 0.9"))
    fit = Fit("exp", np.array([0.97, 0.9, 3.0]), np.diag([1e-4, 1e-4, 1e-2]), 0.01, floor=0.1)
    write_table(tmp_path / "curves.csv", [Curve("fl", "fl", 768.0, fit, None, 6, 2, 0.1, 0.98, unpredictable="why")],
                load_scenario(scn_file))
    runner = CliRunner()
    assert runner.invoke(app, ["plan", scn_file, "-p", "fl", "--out", str(tmp_path / "fl.json")]).exit_code == 0
    r = runner.invoke(app, ["validate", scn_file, str(tmp_path / "fl.json"), "--rounds", "2", "--format", "json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    row = next(x for x in doc["summary"] if x["quantity"].startswith("accuracy after round 2"))
    assert row["quantity"] == "accuracy after round 2 (unpredictable: 7-98%)" and row["measured"] > 0
    assert not any(x["quantity"].startswith("rounds to") for x in doc["summary"])
    assert all(x["predicted_accuracy"] is None and x["predicted_accuracy_high"] == 0.98 for x in doc["rounds"])
