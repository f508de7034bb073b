"""One progress bar for every long job (compare, sweep, validate, calibrate): rich's bar on the
console, or nothing at all when the caller's output is for scripts (`--format csv|json`)."""

from __future__ import annotations


class Bar:
    """`Bar(enabled, total, what="rounds")`; `advance(n)`, `update(completed=..., text=...)`,
    `close()` (or use it as a context manager). Disabled, every call does nothing."""

    def __init__(self, enabled: bool, total: int, what: str = "", done: int = 0, text: str = "", width: int = 28):
        self.bar = self.task = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
        count = "{task.completed}/{task.total}" + (f" {what}" if what else "")
        # on stderr: standard output holds only what was asked for (a bar's last line was a blank
        # line at the top of a sweep's table when standard output was a file)
        self.bar = Progress(TextColumn(f"{{task.description:<{width}}}"), BarColumn(), TextColumn(count),
                            TimeElapsedColumn(), TimeRemainingColumn(), transient=True, console=Console(stderr=True))
        self.bar.start()
        self.task = self.bar.add_task(text, total=total, completed=done)

    def advance(self, n: int = 1, text: str | None = None) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=n, **({} if text is None else {"description": text}))

    def update(self, completed: int | None = None, text: str | None = None) -> None:
        if self.bar is not None:
            kw = {} if completed is None else {"completed": completed}
            self.bar.update(self.task, **kw, **({} if text is None else {"description": text}))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
