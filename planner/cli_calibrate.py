"""`edgeplan calibrate`: learning curves from pilot runs (or a training log), their table and
the notes that say how far to trust them."""

from __future__ import annotations

import math
from pathlib import Path

import typer

from .cli_app import _bad_option, _handles_errors, _outputs, app, err, interrupted, out, paradigm_names


@app.command()
@_handles_errors
def calibrate(scenario: Path = typer.Argument(...),
              paradigm: list[str] = typer.Option(None, "--paradigm", "-p",
                                                 help="Paradigms to calibrate, or a comma list (repeatable; default "
                                                      "all)."),
              rounds: int = typer.Option(None, help="Pilot rounds per run (default: a fifth of training.rounds, "
                                                    "at least 5)."),
              seeds: int = typer.Option(2, help="Runs per configuration, seeds training.seed, +1, ..."),
              out_file: Path = typer.Option(..., "--out", help="The curve table (CSV) to write."),
              resume: bool = typer.Option(False, help="Continue an interrupted calibration into the same --out, "
                                                         "lengthen its pilots with more --rounds, or add "
                                                         "the paradigms of -p to its table."),
              ceiling_rounds: int = typer.Option(None, "--ceiling-rounds",
                                                 help="Rounds of the centralised reference runs: the whole model on "
                                                      "the pooled data, whose accuracy bounds the curves' plateaus, "
                                                      "and on the data dsgd, pel with one worker and fpl's "
                                                      "branch groups learn from apart, whose curves they follow "
                                                      "(default: twice "
                                                      "training.rounds; 0 skips them)."),
              from_log: Path = typer.Option(None, "--from-log", help="Fit a training log (CSV: round, accuracy; "
                                                                      "optional paradigm, configuration, seed, samples, "
                                                                      "loss; paradigm 'centralised' for a reference "
                                                                      "run) instead of training.")):
    """Learning curves: pilot-train each paradigm's best plan and fit accuracy against progress,
    bounded by a centralised reference run."""
    from . import paradigms as P
    from .scenario import load_scenario

    _outputs(files=(out_file,))
    scn = load_scenario(scenario)
    given = paradigm_names(paradigm)
    names = given or list(P.NAMES)
    if not 1 <= seeds <= 1000:
        _bad_option(f"--seeds {seeds}: give 1 to 1000 runs per configuration")
    if ceiling_rounds is not None and ceiling_rounds < 0:
        _bad_option(f"--ceiling-rounds {ceiling_rounds}: give a number of rounds, or 0 to skip the reference run")
    from .calibration import work_folder
    work = work_folder(out_file)
    _outputs(folders=(work,))
    if from_log is not None:
        from .calibration import import_log, read_log
        points = read_log(from_log, scn, given)
        curves = import_log(scn, points, out_file)
    else:
        from edgeplan.validation.calibrate import calibrate as run_calibration

        from .calibration import default_pilot_rounds
        k = rounds or default_pilot_rounds(scn)
        try:
            curves, points = run_calibration(scn, names, k, seeds, out_file, resume, progress=True,
                                             ceiling_rounds=ceiling_rounds)
        except KeyboardInterrupt:
            interrupted(f"the rounds trained so far are checkpointed in {work}")
    wide = _print_curves(scn, curves, trained=from_log is None)
    if from_log is None:
        from edgeplan.validation.calibrate import not_learning
        if note := not_learning(scn, curves):
            err.print(note, markup=False)
    from .reports import curves_plot
    work.mkdir(parents=True, exist_ok=True)
    curves_plot(scn, curves, points, work / "curves.png")
    err.print(f"wrote {out_file} (plot: {work / 'curves.png'})")
    named = scn.spec.training.convergence
    if named is None or scn.resolve(named).resolve() != out_file.resolve():
        import os
        rel = Path(os.path.relpath(out_file.resolve(), scn.base_dir)).as_posix()   # the scenario reads it so
        rel = out_file.resolve().as_posix() if rel.startswith("..") else rel
        err.print(f"to plan with them, set 'convergence: {rel}' in {scenario}'s training"
                  + ("" if scn.spec.training.target_accuracy is not None else
                     " (and a 'target_accuracy' for time to it)"), markup=False)
    if wide and from_log is None:
        err.print(wide_band_note(wide, len(curves), max(cv.rounds_measured for cv in curves),
                                 scn.spec.training.rounds), markup=False)


def wide_band_note(wide: int, curves: int, pilot: int, rounds: int) -> str:
    """What calibrate says when `wide` of its curves' 90% bands span over 20 points at the
    training's last round: lengthen a pilot shorter than the training; a pilot as long has nothing
    left to extrapolate (it had advised `--rounds` as long as the pilot again)."""
    head = f"note: {wide} of {curves} curves' 90% bands span over 20 points at round {rounds}: "
    if pilot < rounds:
        return head + (f"a pilot of {pilot} rounds says little about the rest; lengthen it with --resume --rounds "
                       f"{min(2 * pilot, rounds)} (it goes on from where it ended)")
    return head + (f"the pilot already spans the {rounds} rounds, so the band is how far one run moves from round to "
                   "round and from seed to seed")


def _print_curves(scn, curves, wide_band: float = 0.2, trained: bool = False) -> int:
    """The curves' table; returns how many 90% bands at training.rounds span over `wide_band`."""
    from .calibration import learns_apart, same_as_own
    from .convergence import REFERENCE
    from .tables import make_table, pct_range
    tr = scn.spec.training
    wide, rows = 0, []
    for cv in curves:
        p = cv.predict(tr.rounds, cv.samples_per_round)
        measured = f"{100 * cv.final_measured:.1f}% (round {cv.rounds_measured})"
        if cv.unpredictable:        # the envelope only; the note below says why
            rows.append([cv.configuration, "-", "-", f"unpredictable ({pct_range(p['low'], p['high'])})", measured])
            continue
        wide += p["high"] - p["low"] > wide_band
        rows.append([cv.configuration, cv.accuracy.family, f"{100 * p['plateau']:.1f}%",
                     f"{100 * p['value']:.1f}% ({pct_range(p['low'], p['high'])})", measured])
    out.print(make_table(f"{scn.name}: learning curves",
                         ["configuration", "fit", "plateau", f"at round {tr.rounds}", "measured last"], rows,
                         left=("configuration", "fit")))
    ceiling = curves[0].ceiling if curves else float("nan")
    if ceiling == ceiling:
        out.print(f"Plateaus bounded by {100 * ceiling:.1f}%: the whole model trained centrally on the devices' "
                  "pooled data levels off there (the centralised reference run).")
    elif trained:
        out.print("Plateaus not bounded: no centralised reference run (--ceiling-rounds 0, or dsgd alone, whose "
                  "run holds one device's data).")
    along = [cv for cv in curves if cv.accuracy.family == REFERENCE and not cv.unpredictable]
    if along:
        many = len(along) > 1
        out.print(f"{_and([cv.configuration for cv in along])} {'follow' if many else 'follows'} the centralised "
                  f"run's measured curve at a pace fitted to {'their pilots' if many else 'its pilot'} (fit "
                  "'reference').")
        needs = {cv.configuration: past_the_run(cv, tr.rounds) for cv in along}
        past = [cv for cv in along if needs[cv.configuration]]
        if past:
            need = math.ceil(max(needs.values()) - 1e-6)   # a fitted pace of 1 + 1e-9
            err.print(f"note: by round {tr.rounds} {_and([cv.configuration for cv in past])} would be past the end of "
                      "the centralised run, whose last level the curve then holds: lengthen that run "
                      f"({f'--ceiling-rounds {need}' if trained else f'a log of its first {need} rounds'} or more)",
                      markup=False)
    grouped = [cv.configuration for cv in curves if cv.meta.get("follows") and cv.paradigm == "fpl"]
    alone = [cv.configuration for cv in curves if cv.meta.get("follows") and cv.paradigm != "fpl"]
    if alone:
        out.print(f"{_and(alone)} {'are' if len(alone) > 1 else 'is'} SGD on one device's data: "
                  f"{'each curve is' if len(alone) > 1 else 'its curve is'} that of the centralised run on that "
                  "device's samples alone, at the same samples seen.")
    if grouped:
        many = len(grouped) > 1
        curves_follow = 'their curves follow' if many else 'its curve follows'
        blended = {cv.configuration: cv.meta["private"] for cv in curves if "private" in cv.meta}
        if blended:         # IID devices: the shared trunk learns from every device's samples
            shares = _and([f"{100 * blended[c]:.0f}%" if c in blended else "-" for c in grouped])
            out.print(f"{_and(grouped)}: each branch group keeps its branch and junction slot ({shares} of the "
                      "parameters) to itself, learnt from its own data, the rest from every device's: "
                      f"{curves_follow} centralised runs on each group's samples, weighted by that share, beside "
                      "the run on the pooled data.", markup=False)
        else:
            out.print(f"{_and(grouped)}: each branch group keeps its branch and junction slot to itself, learnt "
                      f"from its own data: {curves_follow} centralised runs on each group's samples alone.",
                      markup=False)
    unforeseen: dict[str, list[str]] = {}        # why -> the configurations it holds for
    for cv in curves:
        if cv.unpredictable:
            unforeseen.setdefault(cv.unpredictable, []).append(cv.configuration)
    for why, names in unforeseen.items():
        err.print(f"note: {_and(names)} {'are' if len(names) > 1 else 'is'} unpredictable: {why}; "
                  f"{'their' if len(names) > 1 else 'its'} plans "
                  "give the accuracy only as a range, from just below chance to the centralised level, and no time to a target",
                  markup=False)
    apart = [cv.configuration for cv in curves if learns_apart(cv.paradigm, cv.configuration)
             and not cv.unpredictable]
    if apart:               # one SGD step a round, yet blocks joined: less steady than the others
        many = len(apart) > 1
        err.print(f"note: {_and(apart)} {'join' if many else 'joins'} blocks each updated against the others' "
                  f"values of the round's start: {'their curves are' if many else 'its curve is'} fitted on "
                  f"{'their' if many else 'its'} own; read the band", markup=False)
    above = max(curves, key=lambda cv: cv.final_measured) if curves else None
    if above is not None and above.final_measured > ceiling + 0.02:       # NaN compares False
        err.print(f"note: {above.configuration} measured {100 * above.final_measured:.1f}% in its pilot, above the "
                  f"{100 * ceiling:.1f}% the centralised reference run levels off at, which holds every plateau "
                  "down: lengthen that run (--ceiling-rounds) or skip it (0)", markup=False)
    misses: dict[tuple, list] = {}      # (curve at the pilot's end, measured) -> their curves
    for cv in curves:       # a curve rises and levels off in the shape the scenario's curves share
        if cv.unpredictable:
            continue
        at_end = cv.predict(cv.rounds_measured, cv.samples_per_round)["value"]
        if abs(at_end - cv.final_measured) <= 0.1:
            continue
        if same_as_own(cv.paradigm, cv.configuration) and cv.meta.get("follows"):
            err.print(f"note: {cv.configuration}'s pilot ended {100 * cv.final_measured:.0f}% where the run on its "
                      f"data, the same SGD, stood at {100 * at_end:.0f}%: early rounds differ by the order of the "
                      "draws; its curve follows the run", markup=False)
        else:
            misses.setdefault((round(100 * at_end), round(100 * cv.final_measured)), []).append(cv)
    for (fit, got), missed in misses.items():
        names = [cv.configuration for cv in missed]
        who = f"{names[0]}'s curve misses" if len(names) == 1 else f"the curves of {' and '.join(names)} miss"
        own_fit = len(curves) == 1 or all(learns_apart(cv.paradigm, cv.configuration) for cv in missed)
        why = ("the pilot does not move along the centralised run's curve at one pace (a start that speeds up or "
               "stalls, or noise)" if all(cv.accuracy.family == REFERENCE for cv in missed) else
               "the pilot does not rise and level off (too noisy, diverging, or still at chance?)" if own_fit else
               "the pilot does not follow the shape the scenario's curves share (rising unlike the others, "
               "diverging, or still at chance)")
        err.print(f"note: {who} the last measured accuracy by {abs(fit - got)} points ({fit}% against {got}%): "
                  f"{why}; read its predictions with care", markup=False)
    return wide


def past_the_run(cv, rounds: int) -> float:
    """How many rounds of the centralised run a `reference` curve needs to cover `rounds` of its
    own training (its pace times its progress), where that is more than the run measured; 0 otherwise."""
    fit = cv.accuracy
    need = float(fit.params[2] * fit.progress(cv.x_of(rounds)))
    return need if need > float(fit.knots[0][-1]) + 1e-9 else 0.0


def _and(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
