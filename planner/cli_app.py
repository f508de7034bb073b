"""The `edgeplan` command's application: options, consoles and error handling shared by its
command modules (cli.py, cli_whatif.py; shared/spec/cli.md).

Exit codes: 0 success, 2 bad input (scenario, plan, profile or option), 3 infeasible problem,
1 internal failure. Errors go to stderr as one sentence; output files appear whole or not at all.
"""

from __future__ import annotations

import functools

import typer
from rich.console import Console

from .errors import InfeasibleError, OutputError, PlanError, ScenarioError

app = typer.Typer(add_completion=False, no_args_is_help=True, rich_markup_mode=None,
                  help="EdgePlan: plan how to train a DNN across edge devices, servers, fog and cloud.")
out = Console(highlight=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)   # an error is one line (scripts grep it)


@app.callback()
def _options(verbose: bool = typer.Option(False, "--verbose", "-v", help="Show solver logs and library warnings."),
             no_cache: bool = typer.Option(False, "--no-cache", help="Profile models afresh; read and write no "
                                           "profile cache (EDGEPLAN_CACHE_DIR, else the user's cache folder).")):
    """EdgePlan: plan how to train a DNN across edge devices, servers, fog and cloud."""
    from .profile_cache import enable
    enable(not no_cache)
    from .solvers.highs import verbose as solver_verbose
    solver_verbose(verbose)
    if not verbose:
        import warnings
        warnings.filterwarnings("ignore")      # library warnings are noise to a user; --verbose shows them


def _handles_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ScenarioError, PlanError, OutputError) as e:
            err.print(f"error: {e}", markup=False)
            raise typer.Exit(2) from None
        except InfeasibleError as e:
            err.print(f"infeasible: {e}", markup=False)
            raise typer.Exit(3) from None
        except typer.Exit:
            raise
        except KeyboardInterrupt:
            err.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as e:  # an internal failure: say what and where, not a bare traceback
            from .errors import internal_error
            err.print(internal_error(e), markup=False)
            if "EDGEPLAN_DEBUG" in __import__("os").environ:
                raise
            raise typer.Exit(1) from None
    return wrapper


def interrupted(kept: str | None) -> None:
    """Ctrl-C or SIGTERM in a long command: say what was kept and how to go on, exit 130."""
    err.print(f"interrupted: {kept}; the same command with --resume goes on from there" if kept else
              "interrupted (no --out: nothing kept)", markup=False)
    raise typer.Exit(130)


def paradigm_names(given: list[str] | None) -> list[str] | None:
    """`-p` as given: repeated, comma lists, or `all`; None for every paradigm. Unknown names fail here."""
    from . import paradigms as P
    names = [x.strip() for p in (given or []) for x in p.split(",") if x.strip()]
    if not names or "all" in names:
        return None
    for n in names:
        P.get(n)
    return list(dict.fromkeys(names))


def _outputs(files=(), folders=()) -> None:
    """Refuse, before any work, output paths that cannot be written (edgeplan.files.writable)."""
    from .files import writable
    for f in files:
        if f is not None:
            writable(f)
    for d in folders:
        if d is not None:
            writable(d, folder=True)


def _bad_option(message: str):
    err.print(f"error: {message}", markup=False)
    raise typer.Exit(2)
