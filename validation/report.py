"""The validation report: predicted against measured, curves, and a Gantt chart of one round."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from edgeplan.files import save_figure  # noqa: E402

from .dsgd_engine import phase_kind  # noqa: E402

COLORS = {"device": "#4C72B0", "uplink": "#DD8452", "server": "#55A868", "trunk": "#55A868",
          "downlink": "#C44E52", "sync": "#8172B3", "handoff": "#8172B3", "download": "#C44E52",
          "upload": "#DD8452", "compute": "#4C72B0"}


KIND_COLORS = {"compute": "#4C72B0", "forward transfer": "#DD8452", "backward transfer": "#C44E52",
               "replicas' gradient sum": COLORS["sync"]}


def _color(phase: str) -> str:
    return KIND_COLORS.get(phase_kind(phase), COLORS.get(phase, "#937860"))


def gantt(events: list[dict], paradigm: str, path: Path, title: str = "") -> None:
    """Bars in event order, a lane per device (dsgd: per node, so the nodes holding stages show);
    parallel paradigms start every device at 0."""
    sequential = paradigm in ("sl", "dsgd")
    lane_of = (lambda e: e["node"]) if paradigm == "dsgd" else (lambda e: e["device"])  # noqa: E731
    lanes = list(dict.fromkeys(lane_of(e) for e in events))
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(lanes) + 2.0))
    cursor = {d: 0.0 for d in lanes}
    t = 0.0
    seen = set()
    for e in events:
        d = lane_of(e)
        start = t if sequential else cursor[d]
        name = (phase_kind(e["phase"]) or e["phase"]) if paradigm == "dsgd" else e["phase"]
        label = name if name not in seen else None
        seen.add(name)
        ax.barh(lanes.index(d), e["seconds"], left=start, color=_color(e["phase"]), edgecolor="none", label=label)
        cursor[d] = start + e["seconds"]
        t = start + e["seconds"]
    ax.set_yticks(range(len(lanes)), lanes)
    ax.invert_yaxis()
    ax.set_xlabel("seconds in the round (on the planned nodes)")
    ax.set_title(title or "one round")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), fontsize=8, ncols=8, frameon=False)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def curves(rounds, path: Path, title: str = "") -> None:
    """Loss, accuracy (with its predicted band) and round latency per round, on axes that tell the
    truth: whole rounds, accuracy on 0-100%, losses and latencies from 0."""
    from matplotlib.ticker import MaxNLocator
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    r = rounds["round"]
    for col, name in (("train_loss", "train"), ("test_loss", "test")):
        if col in rounds and rounds[col].notna().any():
            axes[0].plot(r, rounds[col], "o-", ms=3, label=name)
    axes[0].set_title("loss")
    axes[0].set_ylim(bottom=0)
    if axes[0].lines:
        axes[0].legend()
    axes[1].plot(r, 100 * rounds.test_accuracy, "o-", ms=3, label="measured")
    if "predicted_accuracy" in rounds and rounds.predicted_accuracy.notna().any():
        axes[1].plot(r, 100 * rounds.predicted_accuracy, "--", color="#C44E52", label="predicted")
        axes[1].fill_between(r, 100 * rounds.predicted_accuracy_low, 100 * rounds.predicted_accuracy_high,
                             color="#C44E52", alpha=0.15, label="90% band")
    elif "predicted_accuracy_high" in rounds and rounds.predicted_accuracy_high.notna().any():
        axes[1].fill_between(r, 100 * rounds.predicted_accuracy_low, 100 * rounds.predicted_accuracy_high,
                             color="#C44E52", alpha=0.10, label="unpredictable: chance to centralised")
    if "predicted_accuracy" in rounds:
        if "predicted_accuracy_ceiling" in rounds and rounds.predicted_accuracy_ceiling.notna().any():
            axes[1].axhline(100 * rounds.predicted_accuracy_ceiling.max(), color="black", ls="--", lw=1,
                            label="bound (centralised level)")
    axes[1].legend()
    axes[1].set_title("test accuracy (%)")
    axes[1].set_ylim(0, 100)
    axes[2].plot(r, rounds.round_latency_s, "o-", ms=3, label="measured")
    axes[2].plot(r, rounds.predicted_round_latency_s, "--", label="predicted")
    axes[2].set_title("round latency (s)")
    axes[2].set_ylim(bottom=0)
    axes[2].legend()
    for a in axes:
        a.set_xlabel("round")
        a.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def write_report(result, out: Path) -> None:
    t = f"{result.plan.scenario}: {result.plan.paradigm} ({result.executor})"
    if len(result.rounds):
        curves(result.rounds, out / "curves.png", t)
    if result.events:
        gantt(result.events, result.plan.paradigm, out / "gantt.png", t + ", last round")
