"""Files the tool writes appear whole or not at all, with the user's permissions.

Every output goes to a temporary file beside its destination and is renamed over it once
complete (a rename within a folder is atomic); an exception, including the KeyboardInterrupt
that SIGINT and (through `on_termination`) SIGTERM raise, removes the temporary file. The file
is given the mode a plain `open()` would (0666 less the umask), not mkstemp's private 0600, so a
report can be shared or served. (And one thing about files the user writes: a CSV separated by
semicolons or tabs is told so.)
"""

from __future__ import annotations

import os
import re
import secrets
import signal
from pathlib import Path


def separator_problem(header: str, what: str) -> str | None:
    """What to tell a user whose CSV (a fleet table, a training log) has its header separated by
    semicolons or tabs, as some spreadsheets write it; None for a comma-separated one."""
    if "," in header:
        return None
    name = "semicolons" if ";" in header else "tabs" if "\t" in header else None
    return f"the {what}'s columns are separated by {name}: write it with commas (CSV)" if name else None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def writable(path: str | Path, folder: bool = False) -> Path:
    """Check, before any work, that `path` can be written: a file (not a folder) or, with
    `folder`, a folder (not a file), whose nearest existing parent is a folder this process may
    write in. Creates nothing; raises OutputError naming the path and the fix."""
    from .errors import OutputError
    path = Path(path)
    what = "folder" if folder else "file"
    if path.exists() and path.is_dir() != folder:
        raise OutputError(f"{path}: is a {'file' if folder else 'folder'}; give a {what} path"
                          + ("" if folder else " (inside it, say)"))
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"{path}: {parent} is a file, so no {what} can be made below it")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{path}: cannot write in {parent} (permission denied); give a writable {what} path")
    return path


# atomic_path's temporary names, and how `remove_leftovers` knows them: ".NAME.<12 hex digits>SUFFIX",
# SUFFIX ".tmp" or NAME's own
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[0-9a-f]{12}(?P<suffix>\.[^.]+)$")


def _temporary_name(name: str, suffix: str) -> str:
    return f".{name}.{secrets.token_hex(6)}{suffix}"


class atomic_path:
    """`with atomic_path(path) as tmp:` gives a temporary path beside `path`; on success it replaces
    `path`, else it is removed. For writers that want a file name (matplotlib, pandas' parquet,
    torch.save).

    A class rather than a generator, and the name known before the file exists: Python runs a
    signal's handler (Ctrl-C, SIGTERM through `on_termination`) at the next call or loop, which
    may fall just after `mkstemp` created its file but before it returned the name, or just after
    a generator's `yield` but before the `with` block began; either left the file behind (one
    killed run in 75). Here every point after the file's creation is inside the block that
    removes it."""

    def __init__(self, path: str | Path, suffix: str = ""):
        self.path, self.suffix, self.tmp = writable(path), suffix or ".tmp", None

    def __enter__(self) -> Path:
        from .errors import OutputError
        path = self.path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            while True:
                self.tmp = path.parent / _temporary_name(path.name, self.suffix)
                try:
                    os.close(os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                    return self.tmp
                except FileExistsError:       # another writer's (1 in 2^48): not ours to remove
                    self.tmp = None
        except OSError as e:
            self._remove()
            raise OutputError(f"{path}: cannot write here ({e.strerror}); give a writable file path") from None
        except BaseException:
            self._remove()
            raise

    def __exit__(self, kind, value, tb) -> None:
        try:
            if kind is None:
                os.chmod(self.tmp, 0o666 & ~_umask())
                os.replace(self.tmp, self.path)
                self.tmp = None
        finally:
            self._remove()

    def _remove(self) -> None:
        if self.tmp is not None:
            Path(self.tmp).unlink(missing_ok=True)
            self.tmp = None


def remove_leftovers(folder: str | Path) -> list[str]:
    """Remove from `folder` the temporaries of writers that were killed outright (SIGKILL, a power
    cut): `atomic_path` removes its file after any exception or signal Python sees, not after
    those (a run killed by SIGKILL during its record's write left `.rounds.json.<hex>.tmp`, seen
    once in a CI run). Only where this process owns the folder: a run taking over its --out.
    Returns the names removed."""
    gone = []
    for f in Path(folder).iterdir():
        m = _TEMPORARY.match(f.name)
        if m and f.is_file() and (m["suffix"] == ".tmp" or m["name"].endswith(m["suffix"])):
            f.unlink(missing_ok=True)
            gone.append(f.name)
    return gone


def atomic_write(path: str | Path, data: str | bytes) -> None:
    """Write text (UTF-8) or bytes whole or not at all."""
    with atomic_path(path) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                f.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write(path, text)


def save_figure(fig, path: str | Path, **kwargs) -> None:
    """matplotlib's savefig, atomically (savefig writes in place: a kill mid-way left 0 bytes)."""
    suffix = Path(path).suffix or ".png"
    with atomic_path(path, suffix) as tmp:
        fig.savefig(tmp, format=suffix.lstrip("."), **kwargs)


def write_csv(df, path: str | Path, **kwargs) -> None:
    atomic_write(path, df.to_csv(index=False, **kwargs))


def on_termination() -> None:
    """Treat SIGTERM (what `timeout`, systemd and CI send) like SIGINT: an exception that unwinds
    the stack, so temporary files are removed and worker processes are stopped."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:          # not the main thread (embedded use): leave the default
        pass


class ReaderGone:
    """Standard output that outlives its reader: once the pipe closes (`edgeplan sweep ... | head`)
    the rest of the console output goes nowhere and the command finishes its work, its output
    files written, instead of dying at its next print with them unwritten."""

    def __init__(self, stream):
        self._stream, self.gone = stream, False

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._drop()
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._drop()

    def _drop(self) -> None:
        self.gone = True
        # the descriptor now writes to /dev/null, so the interpreter's last flush at exit (of what the
        # stream still buffers) succeeds instead of printing an ignored BrokenPipeError
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, self._stream.fileno())
        os.close(null)

    def __getattr__(self, name):          # isatty, fileno, encoding, ... as the stream has them
        return getattr(self._stream, name)
