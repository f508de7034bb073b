"""The HTML reports of `compare`, `validate`, `sweep`, `capacity` and `pareto`: the columns a
person reads, in words and units (the CSV and JSON beside them keep every column)."""

from __future__ import annotations

from pathlib import Path

from .htmlreport import Report, compare_figure, figure_png
from .tables import accuracy_text, compare_notes, reach_text
from .units import fmt_si, plural

# the unit of a what-if quantity, by the field a dotted path ends in
FIELD_UNITS = {"bandwidth": "Hz", "compute": "FLOPS", "memory": "B", "power": "W", "tx_power": "W", "rx_power": "W",
               "latency": "s", "uplink": "bit/s", "downlink": "bit/s", "max_round_latency": "s",
               "max_device_energy": "J", "max_round_energy": "J", "frequency": "Hz", "call_overhead": "s",
               "memory_bandwidth": "bit/s", "noise_density": "W/Hz"}


def quantity_unit(path: str) -> str:
    return FIELD_UNITS.get(path.split(".")[-1], "")


def quantity(path: str, v) -> str:
    """A value of a what-if quantity in its unit: 109 MHz, not 1.092e+08."""
    unit = quantity_unit(path)
    if isinstance(v, (int, float)) and unit:
        return fmt_si(float(v), unit)
    return f"{v:,}" if isinstance(v, int) else (f"{v:.4g}" if isinstance(v, float) else str(v))


def compare_report(scn, every, best, objective: str, path) -> None:
    from .comparison import speedups
    from .curves import to_target
    r = Report(f"compare: {scn.name}", f"{scn.spec.description} - {objective}")
    target = scn.spec.training.target_accuracy if to_target(scn) else None
    cols = {"paradigm": None, "method": None, "round_latency_s": "round", "samples_per_round": "samples per round",
            "epoch_time_s": "time per epoch", "epoch_energy_j": "energy per epoch", "comm_bytes": "bytes per round",
            "critical_node": "critical node", "critical_phase": "phase"}
    shown = best
    if target is not None:
        rows = [x for _, x in best.iterrows()]           # an unplanned row's cells stay empty
        shown = best.assign(**{col: [text(x) if x.round_latency_s == x.round_latency_s else "" for x in rows]
                               for col, text in (("reach", reach_text), ("accuracy_shown", accuracy_text))})
        cols.update({"accuracy_shown": f"accuracy after {scn.spec.training.rounds} rounds",
                     "reach": f"rounds to {target:.0%} (band)",
                     "time_to_target_s": f"time to {target:.0%}", "energy_to_target_j": f"energy to {target:.0%}"})
    r.heading("best plan per paradigm").table(shown, cols)
    for n in compare_notes(scn, best):
        r.text(n)
    r.image(compare_figure(best, scn), "time, energy and bytes per paradigm, on the same amount of training")
    r.heading("every method").table(every, {"paradigm": None, "method": None, "kind": None, "status": None,
                                            "round_latency_s": "round", "epoch_time_s": "time per epoch",
                                            "energy_j": "energy per round", "comm_bytes": "bytes per round",
                                            "feasible": None, "solve_time_s": "solved in"})
    sp = speedups(every)
    if len(sp):
        r.heading("the optimum against each baseline").table(sp, {"paradigm": None, "baseline": None,
                                                                  "baseline_round_s": "baseline round",
                                                                  "optimum_round_s": "optimum round",
                                                                  "speedup": "optimum faster by"})
    r.write(path)


def run_sentences(res) -> list[str]:
    """What a run reached and what it trained on, in words (console and report alike)."""
    lines = []
    if len(res.rounds):
        last = res.rounds.iloc[-1]
        lines.append(f"accuracy {100 * last.test_accuracy:.1f}% after round {int(last['round'])} (test loss "
                     f"{last.test_loss:.3f}, train loss {res.rounds.train_loss.iloc[0]:.3f} -> {last.train_loss:.3f}); "
                     f"this host calibrated at {fmt_si(res.host_rate, 'FLOP/s')}")
    what = what_trained(res.plan, res.extra.get("client_state"))
    if what:
        lines.append(what)
    if str(res.executor).startswith("distributed"):
        lines.append("compute: each node's CPU time in its own process, converted to the node's speed at this host's "
                     "rate; before each timed block the node ran its layers once more untimed (a step right after "
                     "a wait for the network runs slower on some hosts)")
    if res.extra.get("split"):
        from edgeplan.validation.data import describe_split
        lines.append(describe_split(res.extra["split"], res.extra.get("split_kind", "")))
    return lines


def what_trained(plan, client_state: str | None) -> str:
    """How the run's paradigm trained where the scenario decides it (its optimizer state from round
    to round, what pel's workers hold outside their block), in one sentence; "" where nothing is
    set."""
    p, d = plan.paradigm, plan.paradigm_detail or {}
    if p in ("fl", "psl", "fpl") and client_state:
        who = {"fl": "each device's model", "psl": "each device's part and its part on the server",
               "fpl": "each branch (the junction and trunk keep theirs)"}[p]
        if client_state == "reset":
            return (f"training: {who} started every round with a fresh optimizer state (training.client_state: "
                    "reset, FedAvg as published)")
        return f"training: {who} kept its optimizer state from round to round (training.client_state: keep)"
    if p == "sl":
        return ("training: the client part passed from device to device with its optimizer state (centralised SGD "
                "over the devices' batches in turn)")
    if p == "pel" and d.get("active_workers", 0) > 1:
        n = d["active_workers"]
        if d.get("download") == "model":
            return (f"training: {n} workers each downloaded the whole current model and updated their block on their "
                    "data (paradigms.pel.download: model)")
        rest = "at its initial weights" if d.get("compute") == "backprop" else "as they last received it"
        return (f"training: {n} workers each updated their block on their data beside a replica holding the rest "
                f"{rest} (paradigms.pel.download: block)")
    return ""


def validate_report(scn, res, out_dir: Path) -> None:
    from edgeplan.validation.runner import summary_text
    r = Report(f"validate: {res.plan.scenario}, {res.plan.paradigm}", f"{plural(len(res.rounds), 'round')}, {res.executor}")
    r.heading("predicted against measured").table(summary_text(res.summary()))
    for line in run_sentences(res):
        r.text(line)
    if not res.transfers_measured:
        r.text("Transfer times are modelled: the bytes that crossed (counted) at the allocated rates. "
               "`--executor distributed --shaped` times them on rate-limited links.")
    ph = res.phases(scn)
    if len(ph):
        r.heading("the last round, per device and phase (on the planned nodes)").table(
            ph, {"device": None, "what": "phase", "predicted_s": "predicted", "measured_s": "measured or modelled",
                 "how": None, "rel_error": "error"})
    for f, alt in (("curves.png", "loss, accuracy and latency per round"), ("gantt.png", "one round")):
        if (out_dir / f).exists():
            r.image(out_dir / f, alt)
    r.heading("rounds").table(res.rounds, {"round": None, "train_loss": "train loss", "test_loss": "test loss",
                                           "test_accuracy": "accuracy", "predicted_accuracy": "predicted accuracy",
                                           "round_latency_s": "round", "predicted_round_latency_s": "predicted round",
                                           "energy_j": "energy", "comm_bytes": "bytes"})
    r.write(out_dir / "report.html")


def _with_units(df, varied: list[str]):
    out = df.copy()
    for p in varied:
        out[p] = [quantity(p, v) for v in df[p]]
    return out


def sweep_report(scn, res, vary: list[str], files, out_dir: Path) -> None:
    r = Report(f"sweep: {scn.name}", ", ".join(vary))
    key = res.ranking
    w = _with_units(res.winners_shown(), res.varied)
    r.heading(f"which paradigm wins where (least {res.ranking_label})").table(
        w, {**{p: p for p in res.varied}, "paradigm": None, "method": None, key: res.ranking_label})
    from .curves import unranked_note
    if note := unranked_note(res.unranked(), res.unforeseen()):
        r.text(note)
    for f in files:
        r.image(f, f.stem)
    cols = {**{p: p for p in res.varied}, "paradigm": None, "method": None, "round_latency_s": "round",
            "epoch_time_s": "time per epoch", "energy_j": "energy per round", "comm_bytes": "bytes per round"}
    if "time_to_target_s" in res.table and res.table.time_to_target_s.notna().any():
        cols.update({"accuracy": "accuracy", "time_to_target_s": "time to target"})
    r.heading("best plan per paradigm and point").table(_with_units(res.best(), res.varied), cols)
    r.write(out_dir / "report.html")


def capacity_report(scn, res, paradigm: str, path) -> None:
    r = Report(f"capacity: {scn.name}", f"{res.path}, {paradigm}, {res.metric} at most {res.target:g}")
    r.text(res.message, "" if res.monotone else "bad")
    probes = res.probes.copy()
    probes[res.path] = [quantity(res.path, v) for v in probes[res.path]]
    r.heading("probes").table(probes)
    r.image(capacity_plot(res), "the metric against the quantity")
    r.write(path)


def capacity_plot(res) -> bytes:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.6))
    x = res.probes[res.path].astype(float)
    ax.plot(x, res.probes[res.metric], "o-")
    ax.axhline(res.target, color="#C44E52", ls="--", label="target")
    if res.value is not None:
        ax.axvline(res.value, color="#55A868", ls=":", label=f"{res.direction}: {quantity(res.path, res.value)}")
    unit = quantity_unit(res.path)
    ax.set_xlabel(res.path + (f" ({unit})" if unit else ""))
    ax.set_ylabel(res.metric.replace("_", " "))
    ax.set_ylim(bottom=0)
    if x.min() > 0 and x.max() / x.min() > 50:
        ax.set_xscale("log")
    ax.legend()
    fig.tight_layout()
    data = figure_png(fig)
    plt.close(fig)
    return data


def pareto_report(scn, front, paradigm: str, out_dir: Path) -> None:
    r = Report(f"pareto: {scn.name}", f"{paradigm}: least energy under each latency cap")
    r.table(front, {"round_latency_s": "round", "energy_j": "energy per round", "device_energy_j": "devices' energy",
                    "comm_bytes": "bytes per round", "time_to_target_s": "time to target",
                    "energy_to_target_j": "energy to target", "how": "how found"})
    r.image(out_dir / "pareto.png", "front")
    r.write(out_dir / "report.html")


def _alike(curves, mean, x) -> dict[str, list[str]]:
    """The configurations to draw, each with the names of those whose pilots and curves are the
    same as its own (fl and psl train alike: one line hid the other, its legend entry unseen)."""
    import numpy as np
    out: dict[str, list[str]] = {}
    seen: list[tuple] = []
    for cv in curves:
        y = cv.accuracy.mean(cv.x_of(x))
        m = mean.loc[cv.configuration].to_numpy() if cv.configuration in mean.index.get_level_values(0) else None
        first = next((name for name, yy, mm in seen if np.allclose(yy, y, rtol=0, atol=1e-9) and
                      (mm is None) == (m is None) and (m is None or (len(mm) == len(m) and np.allclose(mm, m)))),
                     None)
        if first is None:
            seen.append((cv.configuration, y, m))
            out[cv.configuration] = [cv.configuration]
        else:
            out[first].append(cv.configuration)
    return out


def curves_plot(scn, curves, points, path) -> None:
    """calibrate's picture: each configuration's pilot (the seeds' mean per round), its fitted
    curve to training.rounds and its 90% band there (shaded along the curve for up to three
    curves; beyond, a bar at the last round, side by side), the centralised reference run and
    the bound it sets, the runs on their own data that dsgd's, pel's one-worker and fpl's
    group-apart curves follow, and the target."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from .calibration import CENTRALISED
    from .files import save_figure
    tr = scn.spec.training
    x = np.arange(1, tr.rounds + 1)
    fig, ax = plt.subplots(figsize=(9, 4.8))
    shade = len(curves) <= 3
    cmap = plt.get_cmap("tab20" if len(curves) > 9 else "tab10")
    colors = [cmap(i) for i in range(cmap.N) if cmap.N > 10 or i != 7]   # tab10's grey reads as the reference's
    mean = points.groupby(["configuration", "round"]).accuracy.mean()
    drawn: set = set()
    same = _alike(curves, mean, x)
    for k, cv in enumerate(curves):
        if cv.configuration not in same:
            continue                         # drawn under the name of the one it equals
        c = colors[k % len(colors)]
        fit = cv.accuracy
        if cv.unpredictable:                 # its pilot, and no curve: none is foreseen
            if cv.configuration in mean.index.get_level_values(0):
                m = mean.loc[cv.configuration]
                ax.plot(m.index, 100 * m.to_numpy(), "o:", color=c, ms=3.5,
                        label=f"{' = '.join(same[cv.configuration])} (unpredictable)")
            continue
        ax.plot(x, 100 * fit.mean(cv.x_of(x)), color=c, lw=1.4, label=" = ".join(same[cv.configuration]))
        lo, hi = fit.band(cv.x_of(x))
        if shade:
            ax.fill_between(x, 100 * lo, 100 * hi, color=c, alpha=0.12)
        else:
            at = tr.rounds * (1.01 + 0.012 * k)
            ax.plot([at, at], [100 * lo[-1], 100 * hi[-1]], color=c, lw=2, alpha=0.8, solid_capstyle="butt")
        if cv.configuration in mean.index.get_level_values(0):
            m = mean.loc[cv.configuration]
            ax.plot(m.index, 100 * m.to_numpy(), "o", color=c, ms=3.5)
        own = cv.meta.get("follows")        # the reference runs on its own data (calibration.own_data)
        if own and own in mean.index.get_level_values(0):
            m = mean.loc[own]
            label = "fpl: centralised on each branch group's data" if cv.paradigm == "fpl" else \
                f"{cv.configuration}: centralised on its data"
            w = cv.meta.get("private")      # IID fpl: the blend it follows (calibration.blended_run)
            if w is not None and CENTRALISED in mean.index.get_level_values(0):
                m = (w * m + (1 - w) * mean.loc[CENTRALISED]).dropna()
                label = f"{cv.configuration}: groups' runs {w:.0%}, pooled {1 - w:.0%}"
            m = m[m.index <= tr.rounds]
            if tuple(m) in drawn:             # fpl's junctions that group the devices alike share their runs
                continue
            drawn.add(tuple(m))
            ax.plot(m.index, 100 * m.to_numpy(), color=c, lw=1, ls="-.", alpha=0.8, label=label)
    if curves and curves[0].ceiling == curves[0].ceiling:
        ax.axhline(100 * curves[0].ceiling, color="black", ls="--", lw=1, label="bound (centralised level)")
    if CENTRALISED in mean.index.get_level_values(0):       # the reference run itself, as far as the plot goes
        ref = mean.loc[CENTRALISED]
        ref = ref[ref.index <= tr.rounds]
        ax.plot(ref.index, 100 * ref.to_numpy(), color="black", lw=1, ls="-.", alpha=0.8, label="centralised run")
    if tr.target_accuracy is not None:
        ax.axhline(100 * tr.target_accuracy, color="#C44E52", ls=":", lw=1, label="target")
    pilot = max(cv.rounds_measured for cv in curves)
    ax.axvline(pilot, color="grey", ls=":", lw=1)
    ax.annotate(f" pilot: {pilot} rounds", (pilot, 2), color="grey", fontsize=8)
    ax.set_xlabel("round")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_xlim(0, tr.rounds * (1.0 if shade else 1.02 + 0.012 * len(curves)))
    ax.xaxis.get_major_locator().set_params(integer=True)
    band = "shade" if shade else f"bars right of round {tr.rounds}"
    ax.set_title(f"{scn.name}: learning curves (dots measured, lines fitted; {band}: 90% band)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
