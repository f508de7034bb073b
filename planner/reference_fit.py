"""Curves that follow a measured reference run at a pace of their own (family `reference` of
planner.convergence): fl and psl (and sl on IID data) beside the centralised run on the pooled
data (planner.calibration.follows_reference)."""

from __future__ import annotations

import math

import numpy as np

from .convergence import LAG_SHARE, MIN_ROUNDS, REFERENCE, Fit, _lagged, _too_few, measured_points


def fit_along(reference: tuple[np.ndarray, np.ndarray], series: dict[str, tuple[np.ndarray, np.ndarray]],
              start: float | None = None, ceiling: float = 1.0, extrapolates: bool = True) -> dict[str, Fit]:
    """Curves that follow a measured reference run at a pace of their own (family `reference`):
    acc_p(x) = S(e_p u_p(x)), S the run's mean accuracy per round (x in its rounds) made monotone
    and starting from `start` (chance; the lowest accuracy measured without it) at 0, held at or
    below `ceiling` (the level the run settles at, as `convergence.fit_joint` bounds plateaus), e_p and the
    lag d_p (u_p as in `convergence._fit_joint`, at most LAG_SHARE of the pilot) by least squares on each
    pilot. The band: the pace's uncertainty (from the fit's Jacobian), the pilot's residual noise
    and, beyond the pilot, the pace's drift: `drift` is how far (relative) the pace moved when the
    pilot's last third came in, per unit of log progress, and the pace's spread grows by it with
    log(x / x_end) (`Fit.std`). The drift of `convergence._fit_together` (the miss of the first two thirds'
    curve per point it rose) read a flat stretch of the run's curve as no rise: mnist1d-small's fl,
    2 seeds, a 90% band of 9-100% at round 60; 79-96% now (bench_accuracy: 96% of single runs
    inside such bands)."""
    from scipy.optimize import isotonic_regression
    rx, ry = measured_points(*reference)
    xs = np.unique(rx)
    if len(xs) < MIN_ROUNDS:
        raise _too_few(len(xs), "the reference run")
    series = {n: measured_points(*s) for n, s in series.items()}
    lowest = min([float(np.min(ry))] + [float(np.min(y)) for _, y in series.values() if len(y)])
    means = np.array([float(np.mean(ry[rx == v])) for v in xs])
    first = lowest if start is None else min(start, float(means[0]))
    curve = np.minimum(isotonic_regression(np.concatenate([[first], means])).x, ceiling)
    knots = np.vstack([np.concatenate([[0.0], xs]), curve])
    out = {}
    for n, (x, y) in series.items():
        rounds = np.unique(x)
        if len(rounds) < MIN_ROUNDS - 1:
            raise _too_few(len(rounds), n)
        fit = _pace(knots, x, y)
        if extrapolates and len(rounds) >= 2 * MIN_ROUNDS - 2:
            # the pace drifts (relative, per unit of log progress) as it moved when the pilot's last third came in
            cut = np.quantile(rounds, 2 / 3)
            head = x <= cut
            moved = abs(_pace(knots, x[head], y[head]).params[2] / fit.params[2] - 1.0)
            fit.drift = moved / max(math.log(float(np.max(x)) / float(np.max(x[head]))), 1e-9)
        fit.x_end = float(np.max(x))
        out[n] = fit
    return out


def _pace(knots: np.ndarray, x: np.ndarray, y: np.ndarray) -> Fit:
    """The pace e and lag d that carry the reference curve `knots` through (x, y) (least squares:
    log e on a grid, then refined, for each lag on a grid up to LAG_SHARE of the pilot)."""
    from scipy.optimize import minimize_scalar
    kx, ky = knots
    grid = np.linspace(math.log(1e-3), math.log(1e3), 241)
    best = None
    for d in np.linspace(0.0, LAG_SHARE * float(np.max(x)), 9):
        u = _lagged(x, d)

        def sse(g, u=u):
            return float(np.sum((np.interp(math.exp(g) * u, kx, ky) - y) ** 2))
        on_grid = np.sum((np.interp(np.exp(grid)[:, None] * u[None, :], kx, ky) - y[None, :]) ** 2, axis=1)
        k = int(np.argmin(on_grid))
        r = minimize_scalar(sse, bounds=(grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]), method="bounded")
        g, v = (float(r.x), float(r.fun)) if r.fun <= on_grid[k] else (float(grid[k]), float(on_grid[k]))
        if best is None or v < best[0] - 1e-12:
            best = (v, math.exp(g), float(d))
    v, e, d = best
    sigma = math.sqrt(v / max(len(y) - 2, 1))
    fit = Fit(REFERENCE, np.array([float(ky[-1]), float(ky[0]), e]), np.zeros((3, 3)), sigma, lag=d, knots=knots)
    J = _pace_slope(fit, x)          # d acc / d e at the pilot's points
    info = float(np.sum(J ** 2))
    fit.cov[2, 2] = sigma ** 2 / info if info > 0 else 0.0
    return fit


def _pace_slope(fit: Fit, x) -> np.ndarray:
    """d acc / d pace of a `reference` curve at x (the slope of the run's curve times progress)."""
    e, u = fit.params[2], fit.progress(x)
    kx, ky = fit.knots
    de = 1e-4 * e
    return (np.interp((e + de) * u, kx, ky) - np.interp((e - de) * u, kx, ky)) / (2 * de)
