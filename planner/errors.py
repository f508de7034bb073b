"""The planner's exceptions: each says what is wrong, where, and how to fix it."""

from __future__ import annotations


class ScenarioError(ValueError):
    """Bad input in a scenario (or plan, or profile) file.

    `str()` gives "FILE:LINE: FIELD.PATH: message", leaving out what is unknown.
    """

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 path: str | None = None):
        self.message = message
        self.file = file
        self.line = line
        self.path = path
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file:
            where = str(self.file)
            if self.line:
                where += f":{self.line}"
            where += ": "
        elif self.line:
            where = f"line {self.line}: "
        field = f"{self.path}: " if self.path else ""
        return f"{where}{field}{self.message}"


class InfeasibleError(ValueError):
    """No plan meets the scenario's constraints; the message says which node, which
    resource, and by how much."""

    def __init__(self, message: str, node: str | None = None, resource: str | None = None,
                 needed: float | None = None, available: float | None = None):
        self.node = node
        self.resource = resource
        self.needed = needed
        self.available = available
        super().__init__(message)


class OutputError(ValueError):
    """An output path the tool cannot write (a folder where a file goes, no permission, a file
    system that takes no files); the message names the path and what to give instead."""


class PlanError(ValueError):
    """A plan file that does not fit the scenario it is evaluated against."""


def unplanned_status(e: InfeasibleError | PlanError) -> str:
    """A plan row's status when solving raised: 'infeasible' (the constraints cannot be met) or,
    for a PlanError, 'not planned' (it cannot be planned here: no learning curve for it, ...)."""
    return "infeasible" if isinstance(e, InfeasibleError) else "not planned"


def internal_error(e: Exception) -> str:
    """An unexpected exception in words, what and where, for the console (never a bare traceback)."""
    import traceback
    from pathlib import Path
    frame = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    where = f" (at {Path(frame.filename).name}:{frame.lineno})" if frame else ""
    return f"internal error: {type(e).__name__}: {str(e)[:300] or 'no message'}{where}; please report it"
