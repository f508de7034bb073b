"""`edgeplan sweep`, `capacity` and `pareto`: what-if analysis from the command line."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from .cli_app import _bad_option, _handles_errors, _outputs, app, err, interrupted, out, paradigm_names
from .errors import PlanError
from .units import fmt_si

# ---------------------------------------------------------------- what-if

def _varies(scn, vary: list[str]):
    from .errors import ScenarioError
    from .variants import parse_values
    out = []
    for v in vary:
        if "=" not in v:
            _bad_option(f"--vary '{v}': use PATH=V1,V2,... or PATH=start:stop:num or PATH=log:start:stop:num")
        path, vals = v.split("=", 1)
        try:
            out.append((path.strip(), parse_values(vals)))
        except ScenarioError as e:
            _bad_option(f"--vary {path.strip()}: {e}")
    return out


@app.command()
@_handles_errors
def sweep(scenario: Path = typer.Argument(...),
          vary: list[str] = typer.Option(..., help="PATH=V1,V2,... | PATH=start:stop:num | PATH=log:start:stop:num "
                                                   "(repeat for a grid)"),
          paradigm: list[str] = typer.Option(None, "--paradigm", "-p",
                                             help="A paradigm or a comma list (repeatable; default all)."),
          methods: str = typer.Option("all", help="all (optimum and baselines) or optimal."),
          engine: str = typer.Option("process", help="process (a local pool) or ray."),
          workers: int = typer.Option(2, min=1, help="Processes (or Ray CPUs on a local cluster)."),
          address: str = typer.Option(None, help="Ray cluster address (default: start a local one)."),
          out_dir: Path = typer.Option(None, "--out", help="Write sweep.csv, sweep.parquet, plots and report.html."),
          resume: bool = typer.Option(False, "--resume/--no-resume",
                                      help="Take the points an interrupted sweep wrote to --out's sweep.csv and "
                                           "plan the rest.")):
    """What-if grid: every variant planned for every paradigm; a table and plots. Interrupted
    (Ctrl-C), it writes the points planned so far to --out's sweep.csv; --resume continues."""
    from . import paradigms as P
    from .scenario import load_scenario
    from .whatif import sweep as run_sweep
    from .whatif_plots import sweep_plots

    _outputs(folders=(out_dir,))
    scn = load_scenario(scenario)
    names = paradigm_names(paradigm) or list(P.NAMES)
    if methods not in ("all", "optimal"):
        _bad_option("--methods: use all or optimal")
    if resume and out_dir is None:
        _bad_option("--resume: give the --out an interrupted sweep wrote to")
    done = _earlier_table(out_dir / "sweep.csv") if resume else None
    from .whatif import SweepInterrupted
    try:
        res = run_sweep(scn, _varies(scn, vary), names, methods, engine, workers, address, progress=True, done=done)
    except SweepInterrupted as stop:
        _keep_interrupted(stop.result, out_dir)
    invalid = res.table[res.table.status.eq("invalid")]
    whys = list(dict.fromkeys(invalid.why.astype(str)))
    if len(invalid) == len(res.table):       # a misspelt field, say: nothing to show or write
        _bad_option("--vary: every point of the sweep is invalid: " + "; ".join(whys[:3]) +
                    (f" (and {len(whys) - 3} more reasons)" if len(whys) > 3 else ""))
    from .units import plural
    n_pts = len(res.table.drop_duplicates(res.varied))
    each = " x their methods" if methods == "all" else ""         # the baselines are planned too
    out.print(f"{n_pts} points x {plural(len(names), 'paradigm')}{each}: {len(res.table)} plans in "
              f"{res.seconds:.1f} s ({res.engine}, {plural(res.workers, 'worker')})")
    from .reports import quantity
    from .tables import frame
    w = res.winners_shown()
    out.print(frame(f"which paradigm wins: least {res.ranking_header}", w.head(30),
                    {**{p: p for p in res.varied}, "paradigm": None, "method": None, res.ranking: res.ranking_header},
                    left=("paradigm", "method"),
                    quantities={**{p: (lambda v, p=p: quantity(p, v)) for p in res.varied},
                                **({res.ranking: lambda v: fmt_si(v, res.ranking_unit)} if res.ranking_unit else {})}))
    from .curves import no_curves_note, unranked_note
    for note in filter(None, (unranked_note(res.unranked(), res.unforeseen()), no_curves_note(scn))):
        out.print(note, markup=False)
    if len(invalid):
        err.print(f"note: {len(invalid)} of {len(res.table)} plans skipped, their point is invalid: {whys[0]}" +
                  (" (and other reasons: the why column of --out's sweep.csv)" if len(whys) > 1 else ""), markup=False)
    if res.points_taken:
        err.print(f"took {res.points_taken} of the {res.points} points from {out_dir / 'sweep.csv'}", markup=False)
    failed = res.table[res.table.status.eq("error")]
    if len(failed):
        rest = ", the other points are planned" if len(failed) < len(res.table) else ""
        err.print(f"note: {len(failed)} of {len(res.table)} plans failed{rest}: {failed.why.iloc[0]}", markup=False)
    if out_dir is not None:
        _write_table(res, out_dir)
        files = sweep_plots(res, out_dir)
        from .reports import sweep_report
        sweep_report(scn, res, vary, files, out_dir)
        err.print(f"wrote {out_dir}/: sweep.csv, sweep.parquet, {len(files)} plots, report.html")
    if len(failed):
        raise typer.Exit(1)               # something went wrong, though what could be planned is written


def _write_table(res, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    from edgeplan.models.profile_io import atomic_write_text
    atomic_write_text(out_dir / "sweep.csv", res.table.to_csv(index=False))
    from .files import atomic_path
    with atomic_path(out_dir / "sweep.parquet", ".parquet") as tmp:
        words = [c for c in res.table.columns if c in ("why", "status", "kind") or
                 (res.table[c].dtype == object and c in res.varied)]     # a varied field taking words
        res.table.astype({c: str for c in words}).to_parquet(tmp, index=False)


def _earlier_table(path: Path):
    """What an interrupted sweep wrote (None where it wrote nothing: every point is planned)."""
    import pandas as pd
    if not path.exists():
        err.print(f"note: nothing to resume in {path.parent} (no sweep.csv): planning every point", markup=False)
        return None
    try:       # round_trip: the points' values as written, so that they match the grid's exactly
        return pd.read_csv(path, float_precision="round_trip")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise PlanError(f"{path}: not a table a sweep wrote ({e}); use another --out") from None


def _keep_interrupted(res, out_dir: Path | None) -> None:
    """Interrupted: the points planned so far to --out's table (no plots or report of a part of
    the grid), and exit 130 as any interrupted command does."""
    if out_dir is None:
        interrupted(None)
    if not res.points_done:
        err.print("interrupted before any point was planned: nothing written", markup=False)
        raise typer.Exit(130)
    _write_table(res, out_dir)
    interrupted(f"{res.points_done} of {res.points} points planned, written to {out_dir / 'sweep.csv'} (and "
                "sweep.parquet)")


@app.command()
@_handles_errors
def capacity(scenario: Path = typer.Argument(...),
             target: str = typer.Option(..., help="METRIC=VALUE, e.g. round_latency_s=2 (met when <= VALUE)."),
             vary: str = typer.Option(..., help="The dotted path to search, e.g. channels.ap0.bandwidth."),
             paradigm: str = typer.Option("psl", "--paradigm", "-p"),
             solver: str = typer.Option(None),
             lo: str = typer.Option(None, help="Lower end of the search (default: current / 100; 1 for a count; 20 below for dB)."),
             hi: str = typer.Option(None, help="Upper end of the search (default: current x 100; x 10 for a count; 20 above for dB)."),
             html_file: Path = typer.Option(None, "--html")):
    """The least (or most) value of a quantity that meets a target."""
    from .scenario import load_scenario
    from .variants import si_value
    from .whatif import capacity as run_capacity

    _outputs(files=(html_file,))
    scn = load_scenario(scenario)
    if "=" not in target:
        _bad_option(f"--target '{target}': use METRIC=VALUE, e.g. round_latency_s=2")
    metric, value = target.split("=", 1)
    try:
        goal = float(value)
    except ValueError:
        goal = float("nan")
    if not math.isfinite(goal):
        _bad_option(f"--target {metric}: '{value}' is not a finite number (SI units: s, J, bytes)")
    lo_v = si_value(scn, vary, lo) if lo is not None else None
    hi_v = si_value(scn, vary, hi) if hi is not None else None
    res = run_capacity(scn, (metric.strip(), goal), vary, paradigm, solver, lo_v, hi_v)
    from .reports import quantity
    from .tables import frame
    out.print(frame(f"{paradigm}: probes of {vary}", res.probes, {vary: vary, metric.strip(): None, "meets": None},
                    quantities={vary: lambda v: quantity(vary, v)}))
    out.print(res.message, markup=False)
    if html_file is not None:
        from .reports import capacity_report
        capacity_report(scn, res, paradigm, html_file)
        err.print(f"wrote {html_file}")
    if res.value is None:
        raise typer.Exit(3 if res.monotone else 1)


@app.command()
@_handles_errors
def pareto(scenario: Path = typer.Argument(...), paradigm: str = typer.Option("psl", "--paradigm", "-p"),
           points: int = typer.Option(12, min=0, max=1000, help="Latency caps between the two extremes."),
           to_target: bool = typer.Option(False, "--to-target", help="Axes: time and energy to the target accuracy "
                                                                     "(needs the scenario's learning curves)."),
           out_dir: Path = typer.Option(None, "--out", help="Write pareto.csv, pareto.png and report.html.")):
    """The latency-energy front by epsilon-constraint: a table and a plot."""
    from .scenario import load_scenario
    from .whatif import pareto as run_pareto
    from .whatif_plots import pareto_plot

    _outputs(folders=(out_dir,))
    scn = load_scenario(scenario)
    front = run_pareto(scn, paradigm, points, to_target)
    shown = front.drop(columns=["plan"])
    from .tables import frame
    cols = {"round_latency_s": "round", "energy_j": "energy/round", "device_energy_j": "devices",
            "comm_bytes": "bytes/round"}
    if shown.time_to_target_s.notna().any():            # curves and a target: what it takes to reach it
        t = f"{scn.spec.training.target_accuracy:.0%}"
        cols.update({"time_to_target_s": f"time to {t}", "energy_to_target_j": f"energy to {t}"})
    out.print(frame(f"{scn.name}: {paradigm} {'time-energy to target' if to_target else 'latency-energy'} front",
                    shown, {**cols, "how": None}, left=("how",)))
    if len(shown) == 1:
        out.print(f"one point: the {'fastest' if to_target else 'least-latency'} plan also takes the least energy "
                  "here, nothing to trade", markup=False)
    if not to_target and shown.time_to_target_s.notna().any():
        err.print("note: the scenario has learning curves and a target: --to-target traces the front of the time "
                  "and energy to reach it", markup=False)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        from edgeplan.models.profile_io import atomic_write_text
        atomic_write_text(out_dir / "pareto.csv", shown.to_csv(index=False))
        pareto_plot(front, out_dir / "pareto.png", f"{scn.name}: {paradigm}", to_target)
        from .reports import pareto_report
        pareto_report(scn, front, paradigm, out_dir)
        err.print(f"wrote {out_dir}/: pareto.csv, pareto.png, report.html")
