"""The what-if plots: a sweep's objective against each varied quantity and which paradigm wins
where, and a Pareto front (planner.whatif computes them)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .files import save_figure
from .whatif import SweepResult


def sweep_plots(res: SweepResult, out_dir) -> list:
    """objective against each varied quantity per paradigm, and which paradigm wins where."""
    import matplotlib
    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt
    out = Path(out_dir)
    files = []
    best = res.best()
    if best.empty:
        return files
    for path in res.varied:
        others = [p for p in res.varied if p != path]
        sl = best
        for o in others:        # the slice through the first value of every other quantity
            sl = sl[sl[o] == sl[o].iloc[0]]
        fig, ax = plt.subplots(figsize=(7, 4))
        order = list(dict.fromkeys(res.table[path]))
        for name, g in sl.groupby("paradigm"):
            x, ticks = _positions(g[path], order)
            k = np.argsort(x, kind="stable")
            ax.plot(x[k], res.shown(g).to_numpy()[k], "o-", label=name)
        ax.set_xlabel(_axis(path))
        ax.set_ylabel(res.ranking_label)
        ax.set_yscale("log")
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        elif _spread(sl[path]):
            ax.set_xscale("log")
        ax.legend()
        ax.set_title(f"best plan per paradigm against {path}")
        fig.tight_layout()
        f = out / f"sweep-{path.replace('.', '_')}.png"
        save_figure(fig, f, dpi=110)
        plt.close(fig)
        files.append(f)
    w = res.winners()
    names = sorted(w.paradigm.unique())
    colour = {n: k for k, n in enumerate(names)}
    fig, ax = plt.subplots(figsize=(7, 4))
    if len(res.varied) == 1:
        p = res.varied[0]
        x, ticks = _positions(w[p], list(dict.fromkeys(res.table[p])))
        ax.scatter(x, [colour[x] for x in w.paradigm], c=[colour[x] for x in w.paradigm], cmap="tab10",
                   vmin=0, vmax=9, s=60)
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel(_axis(p))
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks)
        elif _spread(res.table[p]):          # the sweep's grid, not only the winners' points
            ax.set_xscale("log")
    else:
        a, b = res.varied[:2]
        sub = w
        for o in res.varied[2:]:
            sub = sub[sub[o] == sub[o].iloc[0]]
        sc = ax.scatter(_numeric(sub[a]), _numeric(sub[b]), c=[colour[x] for x in sub.paradigm], cmap="tab10",
                        vmin=0, vmax=9, s=80, marker="s")
        ax.set_xlabel(_axis(a))
        ax.set_ylabel(_axis(b))
        for p, setter in ((a, ax.set_xscale), (b, ax.set_yscale)):
            if _spread(res.table[p]):
                setter("log")
        handles = [plt.Line2D([], [], marker="s", ls="", color=sc.cmap(sc.norm(colour[n])), label=n) for n in names]
        ax.legend(handles=handles, fontsize=8)
    ax.set_title(f"which paradigm wins where ({res.ranking_label})")
    fig.tight_layout()
    f = out / "sweep-winners.png"
    save_figure(fig, f, dpi=110)
    plt.close(fig)
    files.append(f)
    return files


def _axis(path: str) -> str:
    from .reports import quantity_unit
    unit = quantity_unit(path)
    return path + (f" ({unit})" if unit else "")


def _positions(s: pd.Series, order: list) -> tuple[np.ndarray, list | None]:
    """x positions of a varied quantity's values: the numbers, or for a field that also takes
    words (replicas: 1, 2, auto) the values' places in the grid's order, with their labels."""
    num = pd.to_numeric(s, errors="coerce")
    if num.notna().all():
        return num.to_numpy(float), None
    return np.array([order.index(v) for v in s], float), [str(v) for v in order]


def _numeric(s: pd.Series):
    return pd.to_numeric(s, errors="coerce") if s.dtype == object else s


def _spread(s: pd.Series) -> bool:
    x = pd.to_numeric(s, errors="coerce").dropna()
    return len(x) > 1 and x.min() > 0 and x.max() / x.min() > 50


def pareto_plot(front: pd.DataFrame, path, title: str = "", to_target: bool = False) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    x, y = ("time_to_target_s", "energy_to_target_j") if to_target else ("round_latency_s", "energy_j")
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(front[x], front[y], "o-")
    for _, r in front.iterrows():
        if r.how.startswith("least"):
            ax.annotate(r.how, (r[x], r[y]), fontsize=8, xytext=(4, 4), textcoords="offset points")
    ax.set_xlabel("time to the target accuracy (s)" if to_target else "round latency (s)")
    ax.set_ylabel("energy to the target accuracy (J)" if to_target else "energy per round (J)")
    ax.set_title(title or "latency-energy front")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


