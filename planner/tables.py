"""What the console shows: tables that read at 80 columns (units in the headers, human numbers,
no vertical rules), the same data as CSV or JSON for scripts (`--format`)."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from .convergence import MAX_ROUNDS
from .units import fmt_si, plural

FORMATS = ("table", "csv", "json")


def make_table(title: str, headers: list[str], rows: list[list[str]], left: tuple = (), width: int = 80,
               whole: tuple = ()) -> Table:
    """A compact rich table: header row, no vertical rules, two spaces between columns. Numbers
    never wrap (a unit on its own line reads as another number); where the table is wider than
    `width`, number columns fold long headers at their spaces, the name columns (`left`) give up
    the room and fold after a '+', '/', '_' or '-' or before a '.' ('Conv2d+ / BatchNorm2d'), not
    below their longest such piece where the table fits so (else 8 characters), and then the
    gaps narrow to one space. Columns in `whole` are left-aligned names that fold only where the table cannot fit
    otherwise: identifiers a break would misread ('features.10' folded reads as 'features.1')."""
    natural = [max([len(h)] + [len(str(r[k])) for r in rows]) for k, h in enumerate(headers)]
    shown = _fold_headers(headers, rows, natural, left, whole, width)
    pieces = {k: min(natural[k], max([8] + [len(x) for r in rows for x in _pieces(str(r[k]))]))
              for k, h in enumerate(headers) if h in left}
    # the least a name column folds to: its longest piece ('BatchNorm2d+'), keeping `whole` names
    # whole; else folding them too; else 8 characters, mid-word
    for floor, keep in ((pieces, whole), (pieces, ()), ({k: min(natural[k], 8) for k in pieces}, ())):
        names = [k for k, h in enumerate(headers) if h in left and h not in keep]
        least = sum(natural) - sum(natural[k] - floor[k] for k in names)
        if least + len(headers) - 1 <= width:
            break
    whole = keep
    cap = {k: natural[k] for k in names}
    gap = 2 if least + 2 * (len(headers) - 1) <= width else 1         # the padding, then the blank rule
    t = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, gap - 1, 0, 0),
              show_edge=False)
    over = sum(natural) + gap * (len(headers) - 1) - width
    if over > 0 and names:
        room = sum(natural[k] - floor[k] for k in names)
        for k in names:       # each name column gives up room in proportion to what it has above its floor
            give = natural[k] - floor[k]
            cap[k] = natural[k] - (min(over, room) * give + room - 1) // room if room else natural[k]
    for k, h in enumerate(headers):
        if k in cap:
            t.add_column(shown[k], justify="left", overflow="fold", min_width=cap[k], max_width=cap[k])
        elif h in whole:
            t.add_column(shown[k], justify="left", no_wrap=True, min_width=natural[k])
        else:
            t.add_column(shown[k], justify="right", no_wrap=True, min_width=natural[k])
    for r in rows:
        t.add_row(*[_fold(str(v), cap[k]) if k in cap and cap[k] < natural[k] else v for k, v in enumerate(r)])
    return t


def _fold_headers(headers: list[str], rows: list[list[str]], natural: list[int], left: tuple, whole: tuple,
                  width: int) -> list[str]:
    """The headers as shown: where the table is wider than `width`, a number column whose header is
    longer than its values ('predicted / measured' over '0.84x') folds its header at the spaces
    first, so that the names need not fold ('device energy per' / 'round'). Narrows `natural`."""
    import textwrap
    shown = list(headers)
    over = sum(natural) + 2 * (len(headers) - 1) - width
    values = [max([len(str(r[k])) for r in rows] + [0]) for k in range(len(headers))]
    least = [max(values[k], max(len(w) for w in h.split())) if " " in h.strip() else natural[k]
             for k, h in enumerate(headers)]
    # the headers that give the most room fold first ('J to / target' before 'to / target')
    for k in sorted(range(len(headers)), key=lambda k: least[k] - natural[k]):
        h = headers[k]
        if over <= 0:
            break
        if h in left or h in whole or least[k] >= natural[k]:   # a name, or a header that cannot fold narrower
            continue
        # no narrower than its longest word (or its values), no narrower than the table needs
        lines = textwrap.wrap(h, max(least[k], natural[k] - over))
        folded = max(values[k], max(len(x) for x in lines))
        over -= natural[k] - folded
        natural[k] = folded
        shown[k] = "\n".join(lines)
    return shown


def _pieces(text: str) -> list[str]:
    """`text` cut where it may fold: after a '+', '/', '_', '-' or space and before a '.'."""
    import re
    return list(filter(None, re.findall(r"\.?[^+./_\- ]*[+/_\- ]?", text)))


def _fold(text: str, width: int) -> str:
    """`text` in lines of at most `width`, broken after a '+', '/', '_', '-' or space and before a '.'
    where one falls ('features' / '.10' reads on; rich folds what is still too long, mid-word)."""
    lines, line = [], ""
    for piece in _pieces(text):
        if line and len(line) + len(piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    return "\n".join(lines + [line.rstrip()])


def table_width(wide: bool) -> int:
    """The width a table is laid out for: 80 columns, or unbounded for --wide (see `show`)."""
    return 10 ** 6 if wide else 80


def show(console, table: Table, wide: bool = False) -> None:
    """Print a table; a --wide one at its natural width (a terminal wraps it; nothing is cut)."""
    if wide:
        from rich.console import Console
        Console(width=max(console.width, 400), highlight=False, file=console.file).print(table)
    else:
        console.print(table)


def emit(df: pd.DataFrame | list | dict, fmt: str) -> None:
    """Write data for scripts to stdout: CSV, or strict JSON (null where undefined)."""
    from .jsonio import dumps
    if isinstance(df, pd.DataFrame):
        df = _whole_rounds(df)
    if isinstance(df, dict):       # frames inside a document become lists of records
        df = {k: (_whole_rounds(v).to_dict("records") if isinstance(v, pd.DataFrame) else v) for k, v in df.items()}
    if fmt == "csv":
        frame = df if isinstance(df, pd.DataFrame) else pd.DataFrame(df if isinstance(df, list) else [df])
        sys.stdout.write(frame.to_csv(index=False))
    else:
        data = df.to_dict("records") if isinstance(df, pd.DataFrame) else df
        sys.stdout.write(dumps(data))


def _whole_rounds(df: pd.DataFrame) -> pd.DataFrame:
    """Counts of rounds as whole numbers (13, not 13.0 beside a 9 where a blank made pandas take
    the column as floats)."""
    cols = [c for c in df.columns if str(c).startswith("rounds") and df[c].dtype.kind == "f"
            and df[c].dropna().map(float.is_integer).all()]
    if not cols:
        return df
    out = df.copy()
    for c in cols:
        out[c] = pd.Series([int(v) if v == v else None for v in df[c]], index=df.index, dtype=object)
    return out


def s(x, unit: str) -> str:
    """A number in human units ('' where undefined)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return fmt_si(float(x), unit)


def pct(x) -> str:
    return "" if x is None or x != x else f"{100 * float(x):.1f}%"


def pct_range(low: float, high: float) -> str:
    """'62-88', or '94.0-94.9' where whole points would read as one value."""
    d = 0 if high - low >= 0.02 else 1
    return f"{100 * low:.{d}f}-{100 * high:.{d}f}"


def unit_span(first: int, last: int) -> str:
    """'unit 3', 'units 1-5'."""
    return f"unit {first}" if first == last else f"units {first}-{last}"


def count(x) -> str:
    return "" if x is None or x != x else f"{int(round(float(x))):,}"


# ---------------------------------------------------------------- compare

def unforeseen(r) -> bool:
    """A compare row whose curve no pilot foresees: no accuracy, only its envelope's edges."""
    high = r.get("accuracy_high")
    return not pct(r.accuracy) and high is not None and high == high


def accuracy_text(r) -> str:
    """A compare row's predicted accuracy: '94.2%', or an unpredictable curve's envelope '10-98%'."""
    return f"{pct_range(r.accuracy_low, r.accuracy_high)}%" if unforeseen(r) else pct(r.accuracy)


def reach_text(r) -> str:
    """A compare row's rounds to the target in words: '22 (10-never)' with the 90% band's range,
    'never' (its curve levels off below the target), 'unpredictable' (no pilot foresees its curve)
    or 'no curve' (the table has none for it)."""
    reach = count(r.rounds_to_target)
    if not reach:
        return "never" if pct(r.accuracy) else "unpredictable" if unforeseen(r) else "no curve"
    if "rounds_to_target_fastest" in r:
        reach += f" ({count(r.rounds_to_target_fastest) or '?'}-{count(r.rounds_to_target_slowest) or 'never'})"
    return reach


def compare_view(scn, shown: pd.DataFrame, wide: bool = False) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the compare table: with a target accuracy and the curves that predict
    it, time and energy to it; else time and energy for an epoch (every device's data once), never
    raw per-round figures side by side (paradigms train different numbers of samples per round).
    The sentences under it are `compare_notes`."""
    from .curves import to_target
    tr = scn.spec.training
    target = tr.target_accuracy if to_target(scn) else None
    if wide:
        headers = ["paradigm", "method", "round", "samples/round", "epoch time", "epoch energy", "energy/round",
                   "device energy", "bytes/round", "peak device mem", "critical", "feasible"]
    elif target is not None:
        headers = ["paradigm", "method", "round", f"acc. @{tr.rounds}", f"rounds to {target:.0%}",
                   f"time to {target:.0%}", f"energy to {target:.0%}"]
    else:
        headers = ["paradigm", "method", "round", "time/epoch", "J/epoch", "bytes/round", "critical"]
    rows = []
    for _, r in shown.iterrows():
        if r.round_latency_s != r.round_latency_s:
            rows.append([r.paradigm, r.method] + [""] * (len(headers) - 3) +
                        ["not planned" if r.status == "not planned" else "infeasible"])
        elif wide:
            rows.append([r.paradigm, r.method, s(r.round_latency_s, "s"), count(r.samples_per_round),
                         s(r.epoch_time_s, "s"), s(r.epoch_energy_j, "J"), s(r.energy_j, "J"), s(r.device_energy_j, "J"),
                         s(r.comm_bytes, "B"), fmt_si(r.peak_device_memory_bytes, "B", True),
                         f"{r.critical_node} {r.critical_phase}", "yes" if r.feasible else "no"])
        elif target is not None:
            rows.append([r.paradigm, r.method, s(r.round_latency_s, "s"), accuracy_text(r), reach_text(r),
                         s(r.time_to_target_s, "s") or "-", s(r.energy_to_target_j, "J") or "-"])
        else:
            rows.append([r.paradigm, r.method, s(r.round_latency_s, "s"), s(r.epoch_time_s, "s"),
                         s(r.epoch_energy_j, "J"), s(r.comm_bytes, "B"), f"{r.critical_node}/{r.critical_phase}"])
    return headers, rows


def compare_notes(scn, shown: pd.DataFrame, best: pd.DataFrame | None = None) -> list[str]:
    """The sentences under a comparison, the console's and the HTML report's alike: what an epoch
    is (no target), why a method shown has no plan or an infeasible one, and of each paradigm's
    best plan (`best`, default `shown`; `compare --all` shows every method) its own note, which
    paradigms a target could not rank (no curve) and whether the first two are told apart."""
    from .curves import no_curves_note, to_target, unranked_note
    best = shown if best is None else best
    target = to_target(scn)
    notes = []
    if not target and best.epoch_samples.notna().any():
        notes.append(f"an epoch is {int(best.epoch_samples.dropna().iloc[0]):,} samples, every device's data once "
                     "(paradigms train different numbers of samples per round)")
    notes.append(no_curves_note(scn))
    for _, r in shown.iterrows():
        if r.round_latency_s != r.round_latency_s:
            notes.append(f"{r.paradigm} ({r.method}): {r.why}")
        elif not r.feasible:
            notes.append(f"{r.paradigm} ({r.method}) is infeasible: {r.why}")
    notes += [f"{r.paradigm}: {r.note}" for _, r in best.iterrows() if str(r.note)]
    if target:
        planned = best[best.round_latency_s == best.round_latency_s]
        notes += [unranked_note([r.paradigm for _, r in planned.iterrows() if reach_text(r) == "no curve"],
                                [r.paradigm for _, r in planned.iterrows() if reach_text(r) == "unpredictable"]),
                  close_call(best)]
    return [n for n in notes if n]


def close_call(shown: pd.DataFrame) -> str:
    """A sentence where the first two paradigms by time to the target are not told apart by their
    curves: the 90% bands of their times overlap (a short pilot's usually do), so the order may
    be the other way round. "" where the leader is clear or fewer than two are ranked."""
    if "rounds_to_target_fastest" not in shown:
        return ""
    ranked = shown[np.isfinite(shown.time_to_target_s.astype(float))].sort_values("time_to_target_s")
    if len(ranked) < 2:
        return ""

    def band(r) -> tuple[float, float]:          # (None or NaN: a band's edge that never reaches the target)
        fast, slow = (math.inf if x is None or x != x else float(x)
                      for x in (r.rounds_to_target_fastest, r.rounds_to_target_slowest))
        return (0.0 if fast == math.inf else fast) * r.round_latency_s, slow * r.round_latency_s
    (a, b), (lead, other) = (band(r) for _, r in ranked.iloc[:2].iterrows()), ranked.paradigm.iloc[:2]
    if a[1] <= b[0]:
        return ""
    words = [f"{s(lo, 's')}-{s(hi, 's') or 'never'}" for lo, hi in (a, b)]
    return (f"{lead} and {other}, first and second to the target, are not told apart: the 90% bands of their times "
            f"overlap ({words[0]} and {words[1]}), so the order may be the other way round; longer pilots narrow the "
            "bands (edgeplan calibrate --resume with more --rounds)")


# ---------------------------------------------------------------- a plan

# assignment keys shown as decisions (in this order), and the per-node metrics after them
_DECISIONS = [("cut", "cut", None), ("stage", "stage", None), ("units", "units", None), ("junction", "junction", None),
              ("group", "group", None), ("parameters", "parameters", "count"), ("channel_share", "channel", "share"),
              ("server_share", "server", "share"), ("server", "via", None), ("block", "block", None)]
_METRICS = [("round_latency_s", "round", "s"), ("energy_j", "energy", "J"), ("up_bytes", "up", "B"),
            ("down_bytes", "down", "B")]
_WIDE = [("memory_bytes", "memory", "iB"), ("bandwidth_hz", "bandwidth", "Hz"), ("channel_share_down", "channel down", "share"),
         ("bandwidth_down_hz", "bandwidth down", "Hz")]


def _cell(v, kind) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if kind == "count":
        return count(v)
    if kind == "share":
        return f"{100 * float(v):.1f}%"
    if kind == "iB":
        return fmt_si(float(v), "B", True)
    if kind in ("s", "J", "B", "Hz"):
        return fmt_si(float(v), kind)
    if isinstance(v, list):
        return "-".join(str(x) for x in v) if len(v) == 2 else str(v)
    return str(v)


def plan_summary(p) -> list[str]:
    """The plan's headline in sentences: round, epoch, energy, bytes, critical path, accuracy."""
    pr = p.predicted
    ms = p.solver.get("time_s", 0.0) * 1e3
    # one fact per line, each within 80 columns for usual figures (the console wraps, mid-phrase)
    lines = [f"{p.scenario}: {p.paradigm} by {p.solver['method']} ({p.solver['status']}, {ms:.0f} ms)"]
    def samples(x):
        return plural(int(round(float(x))), "sample") if x is not None and x == x else ""
    per_round = f", {samples(pr['samples_per_round'])}" if pr.get("samples_per_round") else ""
    lines.append(f"a round: {s(pr['round_latency_s'], 's')}, {s(pr.get('energy_j'), 'J')} (devices "
                 f"{s(pr.get('device_energy_j'), 'J')}), {s(pr.get('comm_bytes'), 'B')}{per_round}")
    if pr.get("epoch_samples"):
        lines.append(f"an epoch (every device's data once, {samples(pr['epoch_samples'])}): "
                     f"{s(pr.get('epoch_time_s'), 's')}, {s(pr.get('epoch_energy_j'), 'J')}")
    lines.append(f"critical path: {pr['critical']['node']} {pr['critical']['phase']}")
    acc = pr.get("accuracy")
    if acc:
        if acc.get("unpredictable"):
            lines.append(f"accuracy after {acc['at_round']} rounds: unpredictable, between {pct(acc['low'])} "
                         f"and {pct(acc['high'])}: {acc.get('why')}")
        elif acc.get("value") is None:
            why, _, hint = str(acc.get("why")).partition("; `")
            lines.append(f"accuracy: not predicted: {why}")
            if hint:
                lines.append("`" + hint)
        else:
            lines.append(f"accuracy after {acc['at_round']} rounds: {pct(acc['value'])} (90% band "
                         f"{pct(acc['low'])}-{pct(acc['high'])}; plateau {pct(acc['plateau'])})")
            if acc.get("note"):
                lines.append(acc["note"])
    if pr.get("target_accuracy") is not None:
        t = pr["target_accuracy"]
        if acc is not None and acc.get("value") is None:
            lines.append(f"target {t:.0%}: not predicted ({'unpredictable' if acc.get('unpredictable') else 'no curve'})")
        elif pr.get("rounds_to_target") is None:
            plateau = (pr.get("unreachable") or acc or {}).get("plateau")
            if plateau is not None and plateau > t:       # above it, but too shallow to get there
                lines.append(f"target {t:.0%}: not reached within {MAX_ROUNDS:,} rounds (the curve creeps "
                             f"towards its plateau at {pct(plateau)})")
            else:
                lines.append(f"target {t:.0%}: not reached (the curve levels off at {pct(plateau)})")
        else:
            lo, hi = pr.get("rounds_to_target_range") or [None, None]
            rng = f" ({lo if lo is not None else '?'}-{hi if hi is not None else 'never'})"
            lines.append(f"target {t:.0%}: {pr['rounds_to_target']} rounds{rng}, "
                         f"{s(pr['time_to_target_s'], 's')}, {s(pr['energy_to_target_j'], 'J')}")
    if not p.feasible:
        lines.append("infeasible: " + "; ".join(pr.get("violations", [])))
    return lines


def plan_view(p, wide: bool = False) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of a plan's assignments: the decisions, then per-node metrics."""
    rows = p.assignments
    keys = [k for k in (("node", "role") if wide else ("node",)) if any(k in r for r in rows)]
    cols = [(k, h, kind) for k, h, kind in _DECISIONS if any(k in r for r in rows)]
    cols += _METRICS + ([(k, h, kind) for k, h, kind in _WIDE if any(k in r for r in rows)] if wide else [])
    headers = keys + [h for _, h, _ in cols]
    out = []
    for r in rows[:40]:
        idle = p.paradigm == "pel" and "units" in r and r["units"] is None     # pel: a worker without a block
        out.append([str(r.get(k, "")) for k in keys] +
                   ["idle" if idle and k == "units" else "" if idle and k == "round_latency_s" else _cell(r.get(k), kind)
                    for k, _, kind in cols])
    if len(rows) > 40:
        out.append([f"... {len(rows) - 40} more"] + [""] * (len(headers) - 1))
    return headers, out


def cell(col: str, v) -> str:
    """A value in human units by its column's suffix (_s, _j, _bytes, _hz)."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        for suffix, unit, binary in (("_bytes", "B", False), ("_s", "s", False), ("_j", "J", False),
                                     ("_hz", "Hz", False)):
            if col.endswith(suffix):
                return fmt_si(v, unit, binary)
        if v.is_integer() and abs(v) < 1e15:       # a count stored as a float: 15,250,000, not 1.525e+07
            return f"{int(v):,}"
        return f"{v:.4g}"
    if isinstance(v, list):
        return ", ".join(map(str, v)) if len(v) < 8 else f"[{len(v)} items]"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


def label(col: str) -> str:
    """A column name as words, its unit suffix dropped (the value carries the unit)."""
    import re
    return re.sub(r"_(s|j|bytes|hz)$", "", col).replace("_", " ")


def profile_view(table, times=None, sheet: str | None = None) -> tuple[list[str], list[list[str]], str]:
    """(headers, rows, a sentence of totals) of a unit table."""
    import numpy as np
    headers = ["#", "unit", "kind", "fwd FLOP", "bwd FLOP", "out", "act", "params"]
    per = times.per_sample(sheet) if sheet else None
    if sheet:
        headers.append("time")
    rows = []
    for i, r in table.df.iterrows():
        kind = table.kinds[i] if len(table.kinds) > i else ""
        row = [str(i), r["name"], kind, fmt_si(r.fwd_flops, ""), fmt_si(r.bwd_flops, ""),
               fmt_si(r.out_bytes, "B", True), fmt_si(r.act_bytes, "B", True), f"{int(r.params):,}"]
        if sheet:
            row.append("" if i == 0 else fmt_si(float(per[i - 1]), "s"))
        rows.append(row)
    s_ = table.summary()
    rows.append(["", "total", "", fmt_si(s_["fwd_flops"], ""), fmt_si(s_["bwd_flops"], ""), "",
                 fmt_si(float(table.act.sum()), "B", True), f"{s_['params']:,}"] +
                ([fmt_si(float(np.sum(per)), "s")] if sheet else []))
    params = f"{s_['params']:,} parameters ({fmt_si(s_['param_bytes'], 'B', True)})"
    if not (s_["fwd_flops"] or s_["bwd_flops"]):        # a measured workbook: times, no FLOP counts
        drop = {3, 4} | ({2} if not any(r[2] for r in rows) else set())
        headers = [h for k, h in enumerate(headers) if k not in drop]
        rows = [[v for k, v in enumerate(r) if k not in drop] for r in rows]
        return headers, rows, f"no FLOP counts (measured times cost it); {params}"
    footer = (f"forward {fmt_si(s_['fwd_flops'] / 2, 'MAC')} ({fmt_si(s_['fwd_flops'], 'FLOP')}), backward "
              f"{fmt_si(s_['bwd_flops'], 'FLOP')} per sample; {params}")
    return headers, rows, footer


PERCENT = ("accuracy", "share", "rel_error", "error_percent", "band_low", "band_high")


def human(col: str, v) -> str:
    """A value as a person reads it: units by the column, percentages, yes/no, no e-notation."""
    import math
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
        return "yes" if v else "no"
    if isinstance(v, (int, float)) and any(k in col for k in PERCENT) and not col.endswith("_s"):
        return f"{100 * float(v):.1f}%"
    if col in ("speedup", "ratio") and isinstance(v, (int, float)):
        return f"{float(v):.2f}x"
    if isinstance(v, float) and not col.endswith(("_s", "_j", "_bytes", "_hz")):
        return f"{v:,.4g}" if abs(v) < 1e6 else f"{v:,.0f}"
    return cell(col, v)




def frame(title: str, df: pd.DataFrame, columns: dict, left=(), quantities: dict | None = None) -> Table:
    """A DataFrame as a console table: `columns` column -> header (None: the column in words),
    values in words and units (`quantities`: path -> formatter for what-if quantities)."""
    cols = [c for c in columns if c in df.columns]
    headers = [columns[c] or label(c) for c in cols]
    rows = [[(quantities[c](r[c]) if quantities and c in quantities else human(c, r[c])) for c in cols]
            for _, r in df.iterrows()]
    return make_table(title, headers, rows, left=tuple(columns[c] or label(c) for c in cols if c in left))
