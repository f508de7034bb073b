"""One self-contained HTML file (tables, text and PNG images embedded as data URIs), written
whole, to open in a browser. Tables speak in words and units (never raw column names or
`2.665e+08`) and fit the page. The page counts its images once they have decoded and the tables
wider than the page (`body[data-images-loaded]`, `body[data-too-wide]`), so a headless browser
can check both."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import pandas as pd
from edgeplan.models.profile_io import atomic_write_text

STYLE = """
body { font-family: system-ui, -apple-system, Segoe UI, sans-serif; margin: 2rem auto; max-width: 1100px;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; max-width: 100%; }
th, td { padding: 0.25rem 0.5rem; border-bottom: 1px solid #eee; text-align: right; }
td { white-space: nowrap; } th { background: #f5f5f5; font-weight: 600; vertical-align: bottom; }
td.text, th.text { text-align: left; } td.wrap { white-space: normal; min-width: 14em; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5rem 0; }
.note { color: #555; font-size: 0.9rem; } .bad { color: #b00; }
"""

SCRIPT = """
window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  document.body.setAttribute('data-images-loaded', String(ok));
  document.body.setAttribute('data-images', String(imgs.length));
  document.body.setAttribute('data-tables', String(document.querySelectorAll('table tbody tr').length));
  var page = document.body.clientWidth;
  var wide = Array.prototype.slice.call(document.querySelectorAll('table')).filter(function (t) {
    return t.getBoundingClientRect().width > page + 1; }).length;
  document.body.setAttribute('data-too-wide', String(wide));
});
"""


from .tables import human  # noqa: E402  (one way to show a value, in the console and here)

WRAP = {"note", "why", "message", "how_found"}


def _header(col: str) -> str:
    from .tables import label
    return label(col)


_NOT_A_VALUE = {"", "-", "never", "no curve", "unpredictable", "not reached", "unreachable"}


def _align(col: pd.Series) -> str:
    """Numbers right: numeric columns, and columns of quantities already written in units ('2.59 s',
    '1.8%', '12 (10-never)'), where the words between them say a value is missing."""
    if pd.api.types.is_bool_dtype(col):
        return "text"
    if pd.api.types.is_numeric_dtype(col):
        return "num"
    vals = [str(v) for v in col if isinstance(v, str)]
    quantities = [v for v in vals if v not in _NOT_A_VALUE and not re.fullmatch(r"not in \d+", v)]   # 'not in 4' rounds
    if len(vals) == len(col) and quantities and all(re.match(r"-?\d[\d,.]*(\s|%|x$|$)", v) for v in quantities):
        return "num"
    return "text"


class Report:
    def __init__(self, title: str, subtitle: str = ""):
        self.title, self.subtitle = title, subtitle
        self.parts: list[str] = []

    def heading(self, text: str) -> Report:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def text(self, text: str, cls: str = "note") -> Report:
        # `a command` (the console's way of quoting one) in code type, not with its backticks
        body = re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
        self.parts.append(f'<p class="{cls}">{body}</p>')
        return self

    def table(self, df: pd.DataFrame, columns=None, max_rows: int = 200) -> Report:
        """A table in words and units: `columns` picks and orders the columns shown (a list, or a
        dict column -> header); headers default to the column name in words, values are put in
        units by the column's suffix (_s, _j, _bytes, _hz; shares and accuracies in %)."""
        if columns is not None:
            cols = dict(columns) if isinstance(columns, dict) else {c: None for c in columns}
            df = df[[c for c in cols if c in df.columns]]
        else:
            cols = {}
        shown = df.head(max_rows)
        head = "".join(f'<th class="{_align(shown[c])}">{html.escape(cols.get(c) or _header(c))}</th>'
                       for c in shown.columns)
        body = []
        for _, r in shown.iterrows():
            cells = "".join(f'<td class="{_align(shown[c])}{" wrap" if c in WRAP else ""}">'
                            f"{html.escape(human(c, r[c]))}</td>" for c in shown.columns)
            body.append(f"<tr>{cells}</tr>")
        self.parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")
        if len(df) > max_rows:
            self.text(f"({len(df) - max_rows} more rows in the CSV)")
        return self

    def image(self, png: str | Path | bytes, alt: str = "") -> Report:
        data = png if isinstance(png, bytes) else Path(png).read_bytes()
        b64 = base64.b64encode(data).decode()
        self.parts.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">')
        return self

    def render(self) -> str:
        sub = f"<p class=note>{html.escape(self.subtitle)}</p>" if self.subtitle else ""
        return (f"<!doctype html><html><head><meta charset=utf-8><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style><script>{SCRIPT}</script></head><body>"
                f"<h1>{html.escape(self.title)}</h1>{sub}{''.join(self.parts)}"
                f"<p class=note>EdgePlan report.</p></body></html>\n")

    def write(self, path: str | Path) -> Path:
        atomic_write_text(path, self.render())
        return Path(path)


def figure_png(fig) -> bytes:
    import io
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def compare_bars(best: pd.DataFrame, scn=None) -> list[tuple[str, pd.Series]]:
    """What compare's figure draws per paradigm, on the same amount of training: time, energy and
    bytes to the target accuracy when one is set, else for an epoch (every device's data once).
    Paradigms train different numbers of samples per round, so no bar is a per-round figure."""
    ok = best[best.round_latency_s.notna()].set_index("paradigm")
    f = lambda col: ok[col].astype(float)      # noqa: E731
    target = scn.spec.training.target_accuracy if scn is not None else None
    if target is not None and ok.time_to_target_s.notna().any():
        return [(f"time to {target:.0%} accuracy (s)", f("time_to_target_s")),
                (f"energy to {target:.0%} accuracy (J)", f("energy_to_target_j")),
                (f"bytes to {target:.0%} accuracy", f("comm_bytes") * f("rounds_to_target"))]
    return [("time per epoch (s)", f("epoch_time_s")), ("energy per epoch (J)", f("epoch_energy_j")),
            ("bytes per epoch", f("comm_bytes") * f("epoch_samples") / f("samples_per_round"))]


def compare_figure(best: pd.DataFrame, scn=None) -> bytes:
    """compare_bars as three bar charts, log scale."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    for ax, (label, values) in zip(axes, compare_bars(best, scn)):
        ax.bar(values.index, values, color="#4C72B0")
        ax.set_yscale("log")
        ax.set_title(label)
    fig.tight_layout()
    data = figure_png(fig)
    plt.close(fig)
    return data
