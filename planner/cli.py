"""The `edgeplan` command (shared/spec/cli.md): check, schema, profile, plan, evaluate, compare,
validate here; calibrate in cli_calibrate; sweep, capacity and pareto in cli_whatif.

Exit codes: 0 success, 2 bad input (scenario, plan, profile or option), 3 infeasible problem,
1 internal failure. Errors go to stderr as one sentence; output files appear whole or not at all.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import typer

from .cli_app import _bad_option, _handles_errors, _outputs, app, err, interrupted, out, paradigm_names
from .errors import ScenarioError
from .tables import cell, label
from .units import fmt_si, plural

# ---------------------------------------------------------------- check, schema

@app.command()
@_handles_errors
def check(scenario: Path = typer.Argument(..., help="Scenario file (YAML or JSON).")):
    """Load and validate a scenario; print its nodes, links, channels and model."""
    from .graph import channel_members, unit_table
    from .scenario import load_scenario, role_counts
    from .tables import make_table

    scn = load_scenario(scenario)
    table = unit_table(scn)
    out.print(f"[bold]{scn.name}[/bold]: {scn.spec.description or ''}".rstrip(": "))
    SHOW = 30      # a fleet of thousands: the first rows and a summary, not thousands of lines
    rows = []
    for name, r in scn.nodes.head(SHOW).iterrows():
        comp = f"measured: {r.measured}" if isinstance(r.measured, str) else fmt_si(r.compute, "FLOP/s")
        rows.append([name, r.role, comp, _opt(r.memory, "B", True), fmt_si(r.power, "W"), _opt(r.tx_power, "W"),
                     "" if r.samples != r.samples or r.samples is None else f"{int(r.samples):,}",
                     r.data_source if isinstance(r.data_source, str) else ""])
    out.print(make_table("nodes", ["name", "role", "compute", "memory", "power", "tx power", "samples", "data source"],
                         rows, left=("name", "role", "data source")))
    if len(scn.nodes) > SHOW:
        rest = scn.nodes.iloc[SHOW:]
        comp = rest.compute.dropna()
        out.print(f"... and {len(rest):,} more: " + role_counts(rest.role)
                  + (f"; compute {fmt_si(comp.min(), 'FLOP/s')} to {fmt_si(comp.max(), 'FLOP/s')}" if len(comp) else ""),
                  markup=False)
    rows = []
    for _, r in scn.links.head(SHOW).iterrows():
        if isinstance(r.channel, str):
            kind = f"channel {r.channel}"
            rate = f"{r.spectral_efficiency:g} bit/s/Hz" if r.spectral_efficiency == r.spectral_efficiency and \
                r.spectral_efficiency is not None else f"Shannon, gain {r.gain_db:g} dB"
        else:
            kind, rate = "fixed", f"{fmt_si(r.uplink, 'bit/s')} / {fmt_si(r.downlink, 'bit/s')}"
        rows.append([r.src, r.dst, kind, rate, fmt_si(r.latency, "s")])
    out.print(make_table("links", ["from", "to", "kind", "rate up / down", "latency"], rows,
                         left=("from", "to", "kind", "rate up / down")))
    if len(scn.links) > SHOW:
        out.print(f"... and {len(scn.links) - SHOW:,} more links", markup=False)
    members = channel_members(scn)
    if len(scn.channels):
        rows = []
        for name, r in scn.channels.iterrows():
            m = members.get(name, [])
            rows.append([name, fmt_si(r.bandwidth, "Hz"), _opt(r.noise_density, "W/Hz"),
                         f"{len(m):,}: {', '.join(m[:6])}{', ...' if len(m) > 6 else ''}"])
        out.print(make_table("channels", ["name", "bandwidth", "noise density", "shared by"], rows,
                             left=("name", "shared by")))
    s = table.summary()
    m = scn.spec.model
    src = f"profile {m.profile}" if m.profile else __import__("edgeplan.models.registry", fromlist=["describe"]).describe(m)
    tokens = " of token indices" if m.input_dtype == "int64" else ""
    out.print(f"model: {src}, input {list(m.input_shape)}{tokens}, {m.num_classes} classes: {s['units']} units, "
              f"{s['params']:,} parameters ({fmt_si(s['param_bytes'], 'B', True)}), " +
              (f"{fmt_si(s['fwd_flops'], 'FLOP')} forward + {fmt_si(s['bwd_flops'], 'FLOP')} backward per sample"
               if s["fwd_flops"] or s["bwd_flops"] else "no FLOP counts (the nodes' measured times cost it)"))
    tr = scn.spec.training
    out.print(f"training: batch {tr.batch_size}, {plural(tr.local_iterations, 'local iteration')} per round, "
              f"{tr.rounds} rounds, {tr.optimizer}; objective {_objective_name(scn)}")
    if tr.convergence is not None or tr.target_accuracy is not None:   # the curves: read and checked now
        from .curves import curves_for, no_curves_note
        curves = curves_for(scn)
        target = f"target {tr.target_accuracy:.0%}" if tr.target_accuracy is not None else "no target"
        out.print(no_curves_note(scn) if curves is None else
                  f"accuracy: {target}; learning curves {tr.convergence}: "
                  f"{', '.join(dict.fromkeys(c for _, c in curves.curves))}", markup=False)
    if tr.dataset.startswith(("npz:", "idx:")):          # a user's file: read it now, not after planning
        from edgeplan.models.registry import sample_dtype, sample_shape
        from edgeplan.validation.data import load
        ds = load(tr.dataset, sample_shape(m), m.num_classes, tr.seed, scn.base_dir, sample_dtype(m))
        out.print(f"data: {tr.dataset}: {len(ds.y_train):,} training and {len(ds.y_test):,} test samples, "
                  f"{ds.num_classes} classes", markup=False)
    out.print(f"[green]ok[/green]: {role_counts(scn.nodes.role, always='device')}, {plural(len(scn.links), 'link')}")


def _opt(x, unit, binary=False):
    return "" if x is None or x != x else fmt_si(float(x), unit, binary)


def _objective_name(scn) -> str:
    o = scn.spec.objective
    return o if isinstance(o, str) else f"{o.latency:g} x latency + {o.energy:g} x energy"


@app.command()
@_handles_errors
def schema():
    """Print the JSON Schema of the scenario file."""
    from .schema import ScenarioSpec
    s = ScenarioSpec.model_json_schema(by_alias=True)
    s["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    s["title"] = "EdgePlan scenario"
    sys.stdout.write(json.dumps(s, indent=2) + "\n")


# ---------------------------------------------------------------- profile

@app.command()
@_handles_errors
def profile(model: str = typer.Argument(None, help="A zoo model (" + ", ".join(
                __import__("edgeplan.models.registry", fromlist=["ZOO_MODELS"]).ZOO_MODELS) + "), your own "
                "'package.module:factory', a torch.export file (.pt2), or a scenario file (the model it names)."),
            kwargs: str = typer.Option(None, help="JSON keyword arguments for your factory, e.g. '{\"width\": 64}'."),
            input_shape: str = typer.Option("3,32,32", help="One input sample's shape, without the batch axis: "
                                            "C,H,W for a zoo model (H,W or a length padded with ones); your own "
                                            "model gets it as written."),
            num_classes: int = typer.Option(10, min=1, help="Output classes."),
            input_dtype: str = typer.Option("float32", help="float32 samples, or int64 token indices (a model of "
                                            "your own that starts with an embedding)."),
            bytes_per_value: int = typer.Option(4, min=1, help="4 for fp32, 2 for fp16."),
            out_file: Path = typer.Option(None, "--out", help="Write the profile CSV here."),
            measure: bool = typer.Option(False, help="Also time each unit on this host."),
            measured: Path = typer.Option(None, help="A measured workbook (.xlsx) instead of a zoo model."),
            sheet: str = typer.Option(None, help="The workbook's machine sheet to show."),
            batch_size: int = typer.Option(128, min=1, help="Batch size the workbook was measured at, or to time at with "
                                                       "--measure (per-layer overheads do not scale with it)."),
            times_out: Path = typer.Option(None, "--times-out", help="Write measured times (CSV) here.")):
    """Per-unit profile table of a model (the zoo's or your own), or of a measured workbook."""
    from edgeplan.models.profile_io import host_times, write_profile_csv, write_times_csv

    _outputs(files=(out_file, times_out))
    try:
        shape = [int(x) for x in input_shape.split(",")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        _bad_option(f"--input-shape '{input_shape}': give positive integers like 3,32,32")
    if input_dtype not in ("float32", "int64"):
        _bad_option(f"--input-dtype '{input_dtype}': use float32 or int64 (token indices)")
    if measured is not None:
        import numpy as np
        from edgeplan.models.profile_io import read_workbook
        table, times = read_workbook(measured, batch_size, float(np.prod(shape)) * bytes_per_value, bytes_per_value)
        if sheet is not None:
            try:
                times.check_machine(sheet)
            except ValueError as e:
                raise ScenarioError(str(e), str(measured)) from None
        elif times.problems:
            for m, why in times.problems.items():
                err.print(f"note: {why}", markup=False)
        _print_profile(table, times, sheet)
        if sheet is None:
            err.print(f"--sheet NAME shows a machine's times: {', '.join(times.machines)}", markup=False)
    else:
        if model is None:
            _bad_option("give a MODEL (a zoo name, package.module:factory or a .pt2 file), or --measured WORKBOOK")
        if model.endswith((".yaml", ".yml", ".json")):           # a scenario: the model it names
            table = _profile_scenario(Path(model), measure, batch_size)
        else:
            table = _profile_named(model, kwargs, shape, num_classes, bytes_per_value, measure, batch_size,
                                   input_dtype=input_dtype)
        times = host_times(table, "this-host", batch_size) if measure else None
        _print_profile(table, times, "this-host" if measure else None)
        if measure:
            from .compute import fit_host
            h = fit_host(table, batch_size)
            units = {"compute": "FLOPS", "call_overhead": "s", "memory_bandwidth": "B/s"}
            known = [f"{k} {fmt_si(h[k], u)}" for k, u in units.items() if math.isfinite(h[k])]
            unknown = [k for k in units if not math.isfinite(h[k])]
            out.print(f"this host, fitted on these units at batch {batch_size}: {', '.join(known)} (node fields for "
                      "a machine like this one)" + (f"; {' and '.join(unknown)} not measurable on this model (its "
                                                    "units' times do not depend on it)" if unknown else ""),
                      markup=False)
    if out_file is not None:
        write_profile_csv(table, out_file)
        err.print(f"wrote {out_file}")
    if times_out is not None:
        if times is None:
            _bad_option("--times-out needs --measure or --measured")
        write_times_csv(times, times_out)
        err.print(f"wrote {times_out}")


def _profile_scenario(path: Path, measure: bool, batch_size: int):
    """The unit table of the model a scenario names (its input shape, classes and bytes per value);
    --measure times it here too, where the scenario names a torch model."""
    from .graph import unit_table
    from .scenario import load_scenario
    scn = load_scenario(path)
    m = scn.spec.model
    if not measure:
        return unit_table(scn)
    if not m.trainable:
        _bad_option(f"--measure times a torch model; {path} names a profile table or a workbook (model.profile)")
    if m.zoo is not None:
        return _profile_named(m.zoo, None, list(m.input_shape), m.num_classes, m.bytes_per_value, True, batch_size)
    return _profile_named(m.module or m.export, json.dumps(m.kwargs) if m.kwargs else None, list(m.input_shape),
                          m.num_classes, m.bytes_per_value, True, batch_size, base=scn.base_dir,
                          input_dtype=m.input_dtype)


def _profile_named(model: str, kwargs: str | None, shape, num_classes, bytes_per_value, measure, batch_size,
                   base: Path | None = None, input_dtype: str = "float32"):
    """Profile a zoo model, a user's factory or a torch.export file (timed at `batch_size`)."""
    from edgeplan.models.registry import ZOO_MODELS
    timing = {"measure": measure, **({"measure_batch": batch_size} if measure else {})}
    if model in ZOO_MODELS:
        if input_dtype != "float32":
            _bad_option(f"--input-dtype {input_dtype}: the zoo's models take float samples")
        from edgeplan.models.profile import profile_zoo
        return profile_zoo(model, shape, num_classes, bytes_per_value, **timing)
    if ":" not in model and not model.endswith(".pt2"):
        from .scenario import _suggest
        _bad_option(f"unknown zoo model '{model}'{_suggest(model, ZOO_MODELS) or ''}; available: "
                    f"{', '.join(ZOO_MODELS)}, or your own 'package.module:factory' or a .pt2 file")
    try:
        args = json.loads(kwargs) if kwargs else None
    except json.JSONDecodeError as e:
        _bad_option(f"--kwargs: not JSON ({e.msg})")
    from edgeplan.models.profile import one_torch_thread, profile_model
    from edgeplan.models.user import ModelError, user_model

    from .schema import ModelSpec
    spec = ModelSpec(module=model, kwargs=args, input_dtype=input_dtype) if ":" in model else \
        ModelSpec(export=model, input_dtype=input_dtype)
    try:
        net = user_model(spec, base or Path.cwd(), seed=0)
    except ModelError as e:
        raise ScenarioError(str(e)) from None
    from edgeplan.models.registry import sample_dtype
    from edgeplan.models.user import why_not_profiled
    with one_torch_thread():
        try:
            return profile_model(net, shape, bytes_per_value, name=model, input_dtype=sample_dtype(spec), **timing)
        except Exception as e:
            raise ScenarioError(why_not_profiled(e, model, f"--input-shape {','.join(map(str, shape))}")) from None


def _print_profile(table, times, sheet):
    from .tables import make_table, profile_view
    headers, rows, footer = profile_view(table, times, sheet)
    title = f"{table.model}: {table.L} units" + (f" (time: {sheet}'s per sample)" if sheet else "")
    out.print(make_table(title, headers, rows, left=("unit", "kind"), whole=("unit",)))
    out.print(footer, markup=False)


# ---------------------------------------------------------------- plan, evaluate, compare

@app.command()
@_handles_errors
def plan(scenario: Path = typer.Argument(...),
         paradigm: str = typer.Option(..., "--paradigm", "-p", help="fl, sl, psl, dsgd, fpl or pel."),
         solver: str = typer.Option(None, help="Method (e.g. exact, milp, or a baseline); default: the best."),
         out_file: Path = typer.Option(None, "--out", help="Write the plan JSON here."),
         from_plan: Path = typer.Option(None, "--from", help="Re-plan from an earlier plan and show what changed."),
         wide: bool = typer.Option(False, help="Every column of the assignments."),
         fmt: str = typer.Option("table", "--format", help="table, csv (the assignments) or json (the plan).")):
    """Optimise one paradigm and write its plan."""
    from . import paradigms
    from .costs import CostModel
    from .planfile import Plan
    from .scenario import load_scenario

    _check_format(fmt)
    _outputs(files=(out_file,))
    scn = load_scenario(scenario)
    para = paradigms.get(paradigm)
    cm = CostModel(scn)
    old = Plan.load(from_plan) if from_plan is not None else None
    if old is not None:
        from .replan import replan
        p, changes = replan(cm, para, old, solver)
    else:
        p = para.solve(cm, solver)
    if fmt != "table":
        _emit_plan(p, fmt)
    else:
        _print_plan(p, wide=wide, scn=scn)
        if old is not None:
            _print_changes(changes)
    if out_file is not None:
        p.save(out_file)
        err.print(f"wrote {out_file}")


def _check_format(fmt: str) -> None:
    from .tables import FORMATS
    if fmt not in FORMATS:
        _bad_option(f"--format '{fmt}': use table, csv or json")


def _emit_plan(p, fmt: str) -> None:
    from .tables import emit
    emit(p.assignments if fmt == "csv" else p.to_dict(), fmt)


def _print_plan(p, title=None, wide: bool = False, scn=None):
    from .curves import no_curves_note
    from .tables import make_table, plan_summary, plan_view, show, table_width
    for line in filter(None, plan_summary(p) + [no_curves_note(scn) if scn is not None else ""]):
        out.print(line, markup=False)
    headers, rows = plan_view(p, wide)
    show(out, make_table(title or "assignments", headers, rows, left=("node", "role", "group", "via"),
                         width=table_width(wide)), wide)
    detail = {k: v for k, v in p.paradigm_detail.items() if not isinstance(v, (list, dict))}
    if p.paradigm == "fpl" and detail and not wide:      # the junction in words (--wide: every field)
        from .comparison import plan_note
        out.print(plan_note(p), markup=False)
    elif detail:
        out.print("detail: " + ", ".join(f"{label(k)} {cell(k, v)}" for k, v in detail.items()),
                  markup=False)
    if p.paradigm == "dsgd":
        from .comparison import stage_layout
        out.print(f"stages: {stage_layout(p)[1]}", markup=False)


def _print_changes(changes: list[str]):
    if not changes:
        out.print("re-plan: nothing changed")
        return
    out.print("[bold]what changed[/bold]:")
    for c in changes:
        out.print(f"  {c}", markup=False)


@app.command()
@_handles_errors
def evaluate(scenario: Path = typer.Argument(...), plan_file: Path = typer.Argument(..., metavar="PLAN.json"),
             wide: bool = typer.Option(False, help="Every column of the assignments."),
             fmt: str = typer.Option("table", "--format", help="table, csv (the assignments) or json (the plan).")):
    """Cost a given plan with the cost model (no optimisation)."""
    from .evaluation import evaluate_plan
    from .planfile import Plan
    from .scenario import load_scenario

    _check_format(fmt)
    scn = load_scenario(scenario)
    p = Plan.load(plan_file)
    costs, fresh = evaluate_plan(scn, p, str(plan_file))
    if p.scenario_sha256 and p.scenario_sha256 != scn.sha256:
        err.print(f"note: {plan_file} was planned for a different version of scenario '{p.scenario}'")
    if fmt != "table":
        _emit_plan(fresh, fmt)
        return
    _print_plan(fresh, title="assignments (as evaluated)", wide=wide, scn=scn)
    old = (p.predicted or {}).get("round_latency_s")
    if isinstance(old, (int, float)) and not isinstance(old, bool) and old > 0:
        rel = abs(costs.round_latency - old) / max(abs(old), 1e-300)
        out.print(f"the plan's own prediction: round {fmt_si(old, 's')} (evaluated {fmt_si(costs.round_latency, 's')}, "
                  f"{'the same' if rel < 1e-9 else f'{100 * rel:.2g}% apart'})", markup=False)


@app.command()
@_handles_errors
def compare(scenario: Path = typer.Argument(...),
            out_file: Path = typer.Option(None, "--out", help="Write every method's row as CSV."),
            paradigm: list[str] = typer.Option(None, "--paradigm", "-p",
                                               help="Only these paradigms, or a comma list (repeatable)."),
            all_methods: bool = typer.Option(False, "--all", help="One row per method, not per paradigm."),
            wide: bool = typer.Option(False, help="Every column (per-round energy, memory, critical path)."),
            fmt: str = typer.Option("table", "--format", help="table, csv or json (for scripts)."),
            html_file: Path = typer.Option(None, "--html", help="Also write a self-contained HTML report.")):
    """The best plan of every paradigm side by side, on the same amount of training."""
    from .comparison import compare_table
    from .scenario import load_scenario
    from .tables import FORMATS, compare_notes, compare_view, emit, make_table, show, table_width

    _outputs(files=(out_file, html_file))
    if fmt not in FORMATS:
        _bad_option(f"--format '{fmt}': use table, csv or json")
    scn = load_scenario(scenario)
    df, best = compare_table(scn, paradigm_names(paradigm), progress=fmt == "table", all_methods=all_methods)
    shown = df if all_methods else best
    if fmt != "table":
        emit(shown, fmt)
    else:
        headers, rows = compare_view(scn, shown, wide)
        tr = scn.spec.training
        title = f"{scn.name}: {_objective_name(scn)}, {tr.rounds} rounds"
        show(out, make_table(title, headers, rows, left=("paradigm", "method", "critical", "feasible"),
                             width=table_width(wide)), wide)
        for n in compare_notes(scn, shown, best):
            out.print(n, markup=False)
    if out_file is not None:
        from edgeplan.models.profile_io import atomic_write_text
        atomic_write_text(out_file, df.to_csv(index=False))
        err.print(f"wrote {out_file}")
    if html_file is not None:
        from .reports import compare_report
        compare_report(scn, df, best, f"{_objective_name(scn)} objective", html_file)
        err.print(f"wrote {html_file}")


@app.command()
@_handles_errors
def validate(scenario: Path = typer.Argument(...), plan_file: Path = typer.Argument(..., metavar="PLAN.json"),
             rounds: int = typer.Option(None, min=1, help="Rounds to train (default: the scenario's training.rounds)."),
             executor: str = typer.Option("inprocess", help="inprocess, or distributed (one process per node)."),
             out_dir: Path = typer.Option(None, "--out", help="Write rounds, summary, plots and checkpoints here."),
             resume: bool = typer.Option(False, help="Continue from the checkpoint in --out."),
             timeout: float = typer.Option(120.0, help="Distributed: seconds without progress before giving up."),
             shaped: bool = typer.Option(False, help="Distributed, as root: each device in a network namespace "
                                                     "behind a tc rate limit equal to its allocated rate (dsgd: "
                                                     "each hop of its path, both ways)."),
             fmt: str = typer.Option("table", "--format", help="table, csv (the summary) or json (summary and "
                                                              "rounds).")):
    """Train the partitioned network for real; report predicted against measured."""
    from .planfile import Plan
    from .scenario import load_scenario

    _outputs(folders=(out_dir,))
    _check_format(fmt)
    if executor not in ("inprocess", "distributed"):
        _bad_option(f"--executor '{executor}': use inprocess or distributed")
    if resume and out_dir is None:
        _bad_option("--resume needs --out DIR (where the checkpoint is)")
    if not timeout > 0:
        _bad_option(f"--timeout {timeout:g}: give the seconds without progress before giving up (more than 0)")
    scn = load_scenario(scenario)
    p = Plan.load(plan_file)
    try:
        if executor == "inprocess":
            from edgeplan.validation.runner import run_inprocess
            res = run_inprocess(scn, p, rounds, out_dir, resume, progress=fmt == "table")
        else:
            from edgeplan.validation.distributed import WorkerFailed, run_distributed
            try:
                res = run_distributed(str(scenario), p, rounds, out_dir, resume, progress=fmt == "table",
                                      timeout=timeout, shaped=shaped)
            except WorkerFailed as e:
                err.print(f"error: {e}", markup=False)
                raise typer.Exit(1) from None
    except KeyboardInterrupt:
        interrupted(out_dir and f"every finished round is checkpointed in {out_dir}")
    ph = res.phases(scn)
    if fmt != "table":
        from .tables import emit
        emit(res.summary() if fmt == "csv" else {"summary": res.summary(), "rounds": res.rounds,
                                                 "phases": ph, **res.extra}, fmt)
    else:
        _print_validation(res)
    if len(ph) and fmt == "table":
        g = ph.groupby(["what", "how"], sort=False)[["predicted_s", "measured_s"]].sum().reset_index()
        out.print("last round by phase (sum over devices): " + ", ".join(
            f"{r.what} {fmt_si(r.predicted_s, 's')} predicted / {fmt_si(r.measured_s, 's')} {r.how}"
            for _, r in g.iterrows()), markup=False)
        if not res.transfers_measured:
            out.print("transfer times are modelled: the bytes that crossed, counted, at the allocated rates "
                      "(--executor distributed --shaped times them on rate-limited links)", markup=False)
    if out_dir is not None:
        from edgeplan.validation.runner import write_outputs
        write_outputs(res, out_dir)
        from .reports import validate_report
        validate_report(scn, res, out_dir)
        err.print(f"wrote {out_dir}/: report.html, summary.json, rounds.csv, nodes.csv, curves.png, gantt.png")


def _print_validation(res):
    from edgeplan.validation.runner import summary_text

    from .tables import make_table
    s = summary_text(res.summary())
    out.print(make_table(f"{res.plan.scenario}: {res.plan.paradigm}, {plural(len(res.rounds), 'round')} ({res.executor})",
                         list(s.columns), s.values.tolist(), left=("quantity",)))
    from .reports import run_sentences
    for line in run_sentences(res):
        out.print(line, markup=False)


from . import cli_calibrate, cli_whatif  # noqa: E402,F401  (register calibrate, then sweep, capacity, pareto)


def main():
    from .files import ReaderGone, on_termination
    on_termination()          # SIGTERM unwinds like Ctrl-C: temporary files removed, workers stopped
    sys.stdout = ReaderGone(sys.stdout)
    # --verbose is a global option; accept it after the command too (edgeplan plan ... --verbose)
    args = sys.argv[1:]
    for flag, names in (("--verbose", ("--verbose", "-v")), ("--no-cache", ("--no-cache",))):
        if any(a in names for a in args[1:]):
            args = [flag] + [a for a in args if a not in names]
    app(args=args)


if __name__ == "__main__":
    main()
