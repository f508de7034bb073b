"""Learning curves: test accuracy (and loss) against training progress, per paradigm configuration.

A curve is fitted to real measurements (`edgeplan calibrate` trains pilots; a user's own logs
import the same way) and predicts what a plan reaches after `training.rounds`, and how many
rounds, seconds and joules it needs to reach `training.target_accuracy`.

Progress is measured in samples seen. A curve stores it in *calibration rounds* (samples seen /
the calibration run's samples per round) so its parameters stay O(1); a plan that trains another
number of samples per round (pel with fewer active workers, a changed batch) moves along the same
curve at its own pace. Two parametric families, chosen by AICc on the measured points:

- `power`: acc(x) = a - b x^-c        (inverse power law; a is the plateau)
- `exp`:   acc(x) = a - b exp(-x / c)  (saturating exponential)

A configuration that heads for what a measured reference run reaches (fl and psl follow the
centralised run on the pooled data) takes that run's measured curve itself (family `reference`,
`reference_fit.fit_along`): acc(x) = S(c x), S the run's mean accuracy per round made monotone, c the pace
fitted to the pilot; a = S's plateau, b = S at 0 (chance). No three-parameter family fits the
whole of a run that long where the pilots read the pace: through mnist1d's centralised run
the exponential missed by 3 to 11 points in its first five rounds, and fl's pace from a 20%
pilot came out 15% slow (rounds to a target 48 predicted, 40 measured, on each of three seed sets).

A configuration fitted beside others may start late: its curve holds its first round's level for
`lag` calibration rounds before it follows its family (x -> 1 + max(x - 1 - lag, 0) beyond the
first round), at most a third of its pilot (LAG_SHARE; see `_fit_joint`).

An accuracy curve never predicts below chance (1 / classes, `Fit.floor`; the fit itself is
unbounded below). Loss uses the mirror images (a + b x^-c, a + b exp(-x/c)). Uncertainty: the fit's covariance
(delta method) plus the residual variance (seed-to-seed and round-to-round noise), as a 90%
band for one run. Fitting is in `fit_points`; reading, writing and checking curve tables in
planner.curves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z90 = 1.6449            # two-sided 90% band
MAX_ROUNDS = 10 ** 7    # a target not reached by then is reported as out of reach
MIN_ROUNDS = 4          # distinct rounds a fit needs (three parameters and a residual)
LAG_SHARE = 1 / 3       # a configuration's lag at most this share of its pilot's rounds (see _fit_joint)
# how far below chance (1 / classes) a model that answers one class may score: that class's share of a
# test set (digits: 9.4-10.3% a class; bench_accuracy's runs stuck at chance ended at 9.2-10.0%)
BELOW_CHANCE = 0.03


# ---------------------------------------------------------------- families

def _h_power(x, c):
    return np.power(x, -c)


def _h_exp(x, c):
    return np.exp(-x / c)


def _dh_power(x, c):
    return -np.power(x, -c) * np.log(x)


def _dh_exp(x, c):
    return np.exp(-x / c) * x / c ** 2


# family -> (h(x, c), dh/dc): the curve is a - sign * b * h(x, c)
FAMILIES = {"power": (_h_power, _dh_power), "exp": (_h_exp, _dh_exp)}
REFERENCE = "reference"     # a measured run's curve at a fitted pace (`reference_fit.fit_along`)


@dataclass
class Fit:
    """One fitted family: f(x) = a - sign * b * h(x; c), x in calibration rounds; sign +1 for a
    rising curve (accuracy), -1 for a falling one (loss). a is the plateau."""
    family: str
    params: np.ndarray
    cov: np.ndarray
    sigma: float
    aicc: float = float("nan")
    sign: int = 1
    drift: float = 0.0        # beyond the measured points, sd added per unit of the curve's further rise
    x_end: float = 0.0        # the last measured x
    lag: float = 0.0          # x the curve holds its first round's level before its family takes over
    floor: float = 0.0        # accuracy: chance (1 / classes), below which no prediction falls
    knots: np.ndarray | None = None   # family `reference`: (2, n) its run's curve, x in that run's rounds

    def progress(self, x) -> np.ndarray:
        """Progress as the family sees it: x up to the first round, then x less the lag (not below 1)."""
        return _lagged(np.maximum(np.asarray(x, float), 1e-9), self.lag)

    def mean(self, x) -> np.ndarray:
        a, b, c = self.params
        if self.family == REFERENCE:
            y = np.interp(c * self.progress(x), self.knots[0], self.knots[1])
        else:
            y = a - self.sign * b * FAMILIES[self.family][0](self.progress(x), c)
        # a steep fit through a pilot's first rounds can dip below chance before them (digits,
        # 20% pilots: dsgd 4.5% and pel with one worker 3.2% at round 1 for ten classes)
        return np.maximum(y, self.floor) if self.sign > 0 and self.floor > 0 else y

    def std(self, x) -> np.ndarray:
        """Standard deviation of one run's value at x: parameter uncertainty plus noise plus,
        beyond the measured points, `drift` times how far the curve rises past its last measured
        point (as far off as the same fit extrapolated within the pilot, for each point it
        rose; bounded, since the rise ends at the plateau); for a `reference` curve, the pace's
        relative drift times log(x / x_end), carried through the curve (`_pace_spread`)."""
        a, b, c = self.params
        x, u = np.maximum(np.asarray(x, float), 1e-9), self.progress(x)
        if self.family == REFERENCE:
            return np.sqrt(_pace_spread(self, x, u) ** 2 + self.sigma ** 2)
        h, dh = FAMILIES[self.family]
        J = np.stack([np.ones_like(u), -self.sign * h(u, c), -self.sign * b * dh(u, c)])
        cov = np.nan_to_num(self.cov, nan=0.0, posinf=0.0, neginf=0.0)
        var = np.einsum("i...,ij,j...->...", J, cov, J)
        far = 0.0
        if self.x_end > 0:
            far = self.drift * np.where(x > self.x_end, np.abs(self.mean(x) - self.mean(self.x_end)), 0.0)
        return np.sqrt(np.maximum(var, 0.0) + self.sigma ** 2 + far ** 2)

    def band(self, x, z: float = Z90) -> tuple[np.ndarray, np.ndarray]:
        m, s = self.mean(x), self.std(x)
        lo, hi = np.maximum(m - z * s, 0.0), m + z * s
        return (lo, np.minimum(hi, 1.0)) if self.sign > 0 else (lo, hi)

    @property
    def plateau(self) -> float:
        a = float(self.params[0])
        return max(a, self.floor) if self.sign > 0 else a

    def first_reaching(self, target: float) -> float | None:
        """The least x (calibration rounds, continuous) where the rising mean curve reaches the
        target; None when its plateau lies at or below the target."""
        a, b, c = self.params
        if self.sign > 0 and self.floor >= target:
            return 1e-9                                 # chance reaches it
        if self.family == REFERENCE:
            kx, ky = self.knots
            if ky[0] >= target:
                return 1e-9
            if ky[-1] < target:
                return None
            k = int(np.argmax(ky >= target))           # the first knot at the target; the one before is below
            x_ref = kx[k - 1] + (kx[k] - kx[k - 1]) * (target - ky[k - 1]) / (ky[k] - ky[k - 1])
            u = float(x_ref) / c
            return u + self.lag if u > 1.0 else u
        if b <= 0:
            return 1e-9 if a >= target else None
        if a <= target:
            return None
        if self.family == "power":
            # in logs: a shallow curve (c near its bound 1e-3) overflows (b / (a - t)) ** (1 / c)
            log_u = math.log(b / (a - target)) / c
            u = math.exp(log_u) if log_u < 700.0 else math.inf
        else:
            u = float(max(-c * math.log((a - target) / b), 0.0))
        return u + self.lag if u > 1.0 else u         # beyond the first round, the lag later


def _first_x(fn, target: float, lo: float = 1e-9, hi: float = 1e12) -> float | None:
    """Least x in [lo, hi] with fn(x) >= target: the first crossing on a grid in log x, then
    bisection inside it (a band's edge need not be monotone: its width grows as the curve rises)."""
    if float(fn(lo)) >= target:
        return lo
    grid = np.exp(np.linspace(math.log(lo), math.log(hi), 400))
    over = np.flatnonzero(np.asarray(fn(grid)) >= target)        # fn takes arrays
    if not len(over):
        return None
    k = int(over[0])
    a, b = math.log(grid[k - 1]), math.log(grid[k])
    for _ in range(200):
        m = 0.5 * (a + b)
        if float(fn(math.exp(m))) >= target:
            b = m
        else:
            a = m
        if b - a < 1e-10:
            break
    return math.exp(b)


# ---------------------------------------------------------------- fitting

class FitError(ValueError):
    """Too few or degenerate points to fit a curve; the message says what is needed."""


def _too_few(got: int, who: str = "") -> FitError:
    return FitError(f"{who + ': ' if who else ''}a learning curve needs at least {MIN_ROUNDS} measured rounds, got "
                    f"{got}; calibrate with --rounds {MIN_ROUNDS} or more")


def measured_points(x, y) -> tuple[np.ndarray, np.ndarray]:
    """The points with a round past 0 and a finite value (a log may leave gaps)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0)
    return x[ok], y[ok]


def fit_points(x, y, sign: int = 1, families=("power", "exp")) -> Fit:
    """Fit every family to (x, y) (x in calibration rounds, > 0) by least squares (several starts
    each) and keep the one with the least AICc. Raises FitError when there are too few distinct
    rounds to fit three parameters."""
    from scipy.optimize import curve_fit

    x, y = measured_points(x, y)
    if len(np.unique(x)) < MIN_ROUNDS:
        raise _too_few(len(np.unique(x)))
    n, k = len(x), 3
    y_lo, y_hi = float(np.min(y)), float(np.max(y))
    span = max(y_hi - y_lo, 1e-3)
    xm = float(np.max(x))
    if sign > 0:     # accuracy: the plateau lies in [lowest measured, 1]
        a_lo, a_hi, a0 = y_lo, 1.0, [y_hi, min(y_hi + 0.02, 1.0), y_hi]
    else:            # loss: the plateau lies in [0, lowest measured]
        a_lo, a_hi, a0 = 0.0, max(y_lo, 1e-9), [y_lo, max(y_lo - 0.5 * span, 0.0), 0.5 * y_lo]
    best = None
    for fam in families:
        h = FAMILIES[fam][0]

        def f(xx, a, b, c, h=h):
            return a - sign * b * h(xx, c)

        c_lo, c_hi, c0 = (1e-3, 5.0, [0.5, 1.0, 0.2]) if fam == "power" else (1e-2, 1e3 * xm, [xm / 4, xm, xm / 20])
        lo, hi = [min(a_lo, a_hi - 1e-12), 0.0, c_lo], [a_hi, 20 * span + 2.0, c_hi]
        for a_s, c_s in zip(a0, c0):
            p0 = np.clip([a_s, span, c_s], lo, hi)
            try:
                with np.errstate(all="ignore"):
                    p, cov = curve_fit(f, x, y, p0=p0, bounds=(lo, hi), maxfev=20000)
            except (RuntimeError, ValueError):
                continue
            sse = float(np.sum((y - f(x, *p)) ** 2))
            aicc = n * math.log(max(sse / n, 1e-300)) + 2 * k + (2 * k * (k + 1) / (n - k - 1) if n > k + 1 else 0.0)
            if best is None or aicc < best.aicc - 1e-9:
                best = Fit(fam, np.asarray(p, float), np.asarray(cov, float), math.sqrt(sse / max(n - k, 1)),
                           aicc, sign)
    if best is None:
        raise FitError("no curve family fits these points")
    if not np.all(np.isfinite(best.cov)):
        best.cov = np.zeros((3, 3))
    return best


def fit_joint(series: dict[str, tuple[np.ndarray, np.ndarray]], coverage: dict[str, float] | None = None,
              families=("power", "exp"), apart: set[str] | frozenset = frozenset(),
              ceiling: float = 1.0, extrapolates: bool = True) -> dict[str, Fit]:
    """The joint fit of `_fit_joint`, except for the configurations in `apart`: each is fitted on
    its own (its own plateau and shape), for they run another algorithm rather than the same one
    at another pace (pel with several workers trains each block beside a stale replica of the
    rest and may level off far lower or diverge; held to the others' plateau, its curve was the
    worst of bench_accuracy's: 9 to 23 points off).

    `ceiling` bounds every plateau: the accuracy the model reaches trained centrally on the
    devices' pooled data (`edgeplan calibrate` measures it), which no way of splitting the
    training is expected to pass. Without it a short pilot's curve extrapolates to a plateau of
    nearly 100% wherever it is still rising (bench_accuracy: 20% pilots, median error 4.4 points
    without the bound, 2.8 with it).

    `extrapolates=False` for series that span the horizon the curves predict (a reference run
    as long as the training): the family is the one that fits them best (AICc), not the one whose
    first two thirds best foresee the last, and no drift widens the band."""
    if not 0 < ceiling <= 1:
        raise FitError(f"the accuracy ceiling {ceiling:g} is not in (0, 1]")
    together = {n: s for n, s in series.items() if n not in apart}
    fits = _fit_together(together, coverage, families, ceiling, extrapolates) if together else {}
    for n in series:
        if n in apart:
            fits.update(_fit_together({n: series[n]}, coverage, families, ceiling, extrapolates))
    return fits


def _fit_together(series: dict[str, tuple[np.ndarray, np.ndarray]], coverage: dict[str, float] | None = None,
                  families=("power", "exp"), ceiling: float = 1.0, extrapolates: bool = True) -> dict[str, Fit]:
    """Fit the joint model (see `_fit_joint`) with the family that best predicts the pilot's own
    last third from its first two thirds (what a curve is for is extrapolation; in-sample fit
    favours the family that saturates soonest), by AICc when the pilot is too short to split.
    The same test gives each configuration its `drift`: how far the curve of the first two thirds
    missed the last third, per point of the rise it predicted there. Without it the 90% band of a
    20% pilot held the final accuracy in 73% of bench_accuracy's runs (the curves' shape, not only
    their noise, is uncertain when they extrapolate five-fold); with it, 89%."""
    rounds = min(len(np.unique(np.asarray(x))) for x, _ in series.values())
    drifts = {}
    if extrapolates and rounds >= 2 * MIN_ROUNDS - 2:
        scores = {}
        for fam in families:
            head, tail = {}, {}
            for n, (x, y) in series.items():
                x, y = np.asarray(x, float), np.asarray(y, float)
                cut = np.quantile(np.unique(x), 2 / 3)
                head[n], tail[n] = (x[x <= cut], y[x <= cut]), (x[x > cut], y[x > cut])
            try:
                fits = _fit_joint(head, coverage, (fam,), ceiling)
            except FitError:
                continue
            scores[fam] = float(np.mean(np.concatenate([fits[n].mean(x) - y for n, (x, y) in tail.items()]) ** 2))
            drifts[fam] = {n: _drift(fits[n], head[n][0], *tail[n]) for n in tail}
        if scores:
            families = (min(scores, key=scores.get),)
    fits = _fit_joint(series, coverage, families, ceiling)
    for n, f in fits.items():          # the band widens the further it extrapolates (see Fit.std)
        f.drift = drifts.get(f.family, {}).get(n, 0.0)
        f.x_end = float(np.max(np.asarray(series[n][0], float)))
    return fits


def _drift(fit: Fit, x_head, x_tail, y_tail, least_rise: float = 0.01) -> float:
    """How far off the curve fitted on the pilot's first two thirds lands on its last third, per
    point of the rise it predicted there (the RMS error over the mean predicted rise, which
    counts as at least `least_rise`: a flat pilot that then moved is uncertain, not infinitely)."""
    if len(y_tail) == 0:
        return 0.0
    x_tail = np.asarray(x_tail, float)
    rise = max(float(np.mean(np.abs(fit.mean(x_tail) - fit.mean(float(np.max(x_head)))))), least_rise)
    return float(np.sqrt(np.mean((fit.mean(x_tail) - np.asarray(y_tail, float)) ** 2))) / rise


def _fit_joint(series: dict[str, tuple[np.ndarray, np.ndarray]], coverage: dict[str, float] | None = None,
               families=("power", "exp"), ceiling: float = 1.0) -> dict[str, Fit]:
    """Accuracy curves of several configurations of one scenario, fitted together.

    The configurations learn one task with one model: they share the curve's shape and plateau
    and differ in how fast they move along it, acc_p(x) = v_p (a - b h(e_p u_p(x); c)), e_p each
    configuration's sample efficiency (1 for the one furthest along in the pilot) and v_p the
    share of test samples whose class its training data holds (below 1 where a configuration
    trains on one device's skewed data: dsgd). The fastest configuration pins the shape that the
    slower ones have not reached yet in a short pilot; fitted alone, a slow start extrapolates to
    a plateau far too low. The shared plateau a lies at or below `ceiling`.

    u_p(x) = 1 + max(x - 1 - d_p, 0) beyond the first round: a configuration other than the
    fastest may hold its first round's level for a lag d_p, at most LAG_SHARE of its pilot, before
    it moves along the curve. Starts that speed up (FedAvg on non-IID data: 14, 10, 21, 23% over
    four rounds, 78% at round 20) are what the concave families cannot follow otherwise: their
    pace came out too slow (bench_accuracy, 20% pilots: fl on digits Dirichlet 0.3 66% predicted,
    77% with the lag; the rounds to a target 16% too many in the median, 53% at worst, then 12% and
    40%). Longer lags are not told apart from a pilot that has not
    left its first level at all (sl on digits Dirichlet 0.3 flat at chance: with lags up to half
    the pilot predicted at 65%, its seeds ending at 55, 65 and 10%).

    Family by AICc; the covariance of (a, b, c, e_p) by the Jacobian, mapped to each
    configuration's own (a', b', c') (the lag's own uncertainty is left out of the band)."""
    from scipy.optimize import least_squares

    names = list(series)
    P = len(names)
    vs = np.array([(coverage or {}).get(n, 1.0) for n in names])
    xs = [np.asarray(series[n][0], float) for n in names]
    ys = [np.asarray(series[n][1], float) for n in names]
    got = [len(np.unique(x[x > 0])) for x in xs]          # distinct measured rounds per configuration
    for n, g in zip(names, got):
        if g < MIN_ROUNDS - 1:
            raise _too_few(g, n)
    if sum(got) < P + MIN_ROUNDS - 1:        # the parameters (shared three, an efficiency each) and a residual
        raise _too_few(max(got))
    last = [float(np.mean(y[x >= np.max(x) - 2])) / v for x, y, v in zip(xs, ys, vs)]
    ref = int(np.argmax(last))
    free = [i for i in range(P) if i != ref]
    F = len(free)
    xm = max(float(np.max(x)) for x in xs)
    y_hi = max(last)
    n_pts = sum(len(y) for y in ys)
    best = None
    for fam in families:
        h = FAMILIES[fam][0]

        def unpack(th):
            e, d = np.ones(P), np.zeros(P)
            e[free], d[free] = np.exp(th[3:3 + F]), th[3 + F:]
            return th[0], th[1], th[2], e, d

        def resid(th, h=h):
            a, b, c, e, d = unpack(th)
            return np.concatenate([v * (a - b * h(e[i] * _lagged(x, d[i]), c)) - y
                                   for i, (x, y, v) in enumerate(zip(xs, ys, vs))])

        c_lo, c_hi, c0s = (1e-3, 5.0, [0.5, 1.0, 2.0]) if fam == "power" else (1e-2, 1e3 * xm, [xm / 4, xm, xm / 20])
        # the plateau at most the ceiling (fit_joint checked it is in (0, 1]): a pilot already above it
        # is noise, held to it
        lags = [LAG_SHARE * float(np.max(xs[i])) for i in free]
        lo = np.concatenate([[min(y_hi, ceiling) * 0.9, 0.0, c_lo], np.full(F, -8.0), np.zeros(F)])
        hi = np.concatenate([[ceiling, 5.0, c_hi], np.full(F, 8.0), lags])
        for c0 in c0s:
            th0 = np.clip(np.concatenate([[min(y_hi + 0.02, ceiling), max(y_hi - 0.1, 0.1), c0], np.zeros(F),
                                          np.zeros(F)]), lo + 1e-9, hi - 1e-9)
            try:
                with np.errstate(all="ignore"):
                    r = least_squares(resid, th0, bounds=(lo, hi), max_nfev=5000)
            except (ValueError, np.linalg.LinAlgError):
                continue
            sse = float(np.sum(r.fun ** 2))
            k = len(th0)
            aicc = n_pts * math.log(max(sse / n_pts, 1e-300)) + 2 * k + \
                (2 * k * (k + 1) / (n_pts - k - 1) if n_pts > k + 1 else 0.0)
            if best is None or aicc < best[0] - 1e-9:
                best = (aicc, fam, r, unpack(r.x))
    if best is None:
        raise FitError("no curve family fits these points")
    aicc, fam, r, (a, b, c, e, d) = best
    dof = max(n_pts - len(r.x), 1)
    J = r.jac
    with np.errstate(all="ignore"):
        cov = np.linalg.pinv(J.T @ J) * float(np.sum(r.fun ** 2)) / dof
    if not np.all(np.isfinite(cov)):
        cov = np.zeros_like(cov)
    out = {}
    start, h = 0, FAMILIES[fam][0]
    for i, n in enumerate(names):
        v = vs[i]
        m = len(ys[i])
        res_i = r.fun[start:start + m]
        start += m
        # own parameters: power a' = v a, b' = v b e^-c, c' = c; exp a' = v a, b' = v b, c' = c / e (the
        # lag stays in x: e u(x) with u(x) = 1 + max(x - 1 - d, 0))
        idx = [0, 1, 2] + ([3 + free.index(i)] if i in free else [])
        sub = cov[np.ix_(idx, idx)]
        if fam == "power":
            own = np.array([v * a, v * b * e[i] ** -c, c])
            G = np.array([[v, 0, 0], [0, v * e[i] ** -c, -v * b * e[i] ** -c * math.log(e[i])], [0, 0, 1]])
            dG = np.array([[0.0], [-c * v * b * e[i] ** -c], [0.0]])     # d/d(log e)
        else:
            own = np.array([v * a, v * b, c / e[i]])
            G = np.array([[v, 0, 0], [0, v, 0], [0, 0, 1 / e[i]]])
            dG = np.array([[0.0], [0.0], [-c / e[i]]])
        if i in free:
            G = np.hstack([G, dG])
        own_cov = G @ sub @ G.T
        sigma = math.sqrt(float(np.sum(res_i ** 2)) / max(m - 1, 1))
        out[n] = Fit(fam, own, own_cov, sigma, aicc, lag=float(d[i]))
    return out


def _pace_spread(fit: Fit, x: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A `reference` curve's spread at x from its pace alone (the run's curve is measured): the
    pace's standard deviation (the fit's, and beyond the pilot its relative drift times log(x /
    x_end)), carried through the curve as half its rise between the pace less and more one
    deviation (a secant, not the slope: the run's curve is piecewise linear with flat stretches)."""
    e = float(fit.params[2])
    var = max(float(np.nan_to_num(fit.cov[2, 2])), 0.0)
    far = fit.drift * e * np.log(np.maximum(x / fit.x_end, 1.0)) if fit.x_end > 0 else np.zeros_like(x)
    sd = np.sqrt(var + far ** 2)
    kx, ky = fit.knots
    return 0.5 * (np.interp((e + sd) * u, kx, ky) - np.interp(np.maximum(e - sd, 0.0) * u, kx, ky))


def _lagged(x: np.ndarray, lag: float) -> np.ndarray:
    """x up to the first round, then x less the lag (not below 1)."""
    return np.where(x > 1.0, 1.0 + np.maximum(x - 1.0 - lag, 0.0), x) if lag > 0 else x


# ---------------------------------------------------------------- a configuration's curve

@dataclass
class Curve:
    """The learning curve of one paradigm configuration."""
    paradigm: str
    configuration: str
    samples_per_round: float          # of the calibration runs: x = samples seen / this
    accuracy: Fit
    loss: Fit | None = None
    rounds_measured: int = 0
    seeds: int = 1
    final_measured: float = float("nan")
    ceiling: float = float("nan")     # the centralised run's accuracy that bounded the plateau (NaN: none)
    meta: dict = field(default_factory=dict)
    # why no pilot of it foresees its curve ("": one does); such a curve predicts only the envelope
    # from chance to the ceiling, and no rounds to a target (see `unforeseeable` in planner.calibration)
    unpredictable: str = ""

    def __repr__(self) -> str:
        """One line a notebook can read (the dataclass's repr printed both fits' covariances)."""
        from .units import plural
        bound = f", bounded by {100 * self.ceiling:.1f}%" if self.ceiling == self.ceiling else ""
        last = f", {100 * self.final_measured:.1f}% at the last" if self.final_measured == self.final_measured else ""
        shape = "unpredictable" if self.unpredictable else \
            f"{self.accuracy.family}, plateau {100 * self.accuracy.plateau:.1f}%"
        return (f"Curve({self.configuration}: {shape}"
                f"{bound}; {plural(self.rounds_measured, 'round')} x {plural(self.seeds, 'seed')} measured{last}; "
                ".predict(rounds), "
                ".rounds_to(target))")

    def x_of(self, rounds, samples_per_round: float | None = None):
        spr = samples_per_round or self.samples_per_round
        return np.asarray(rounds, float) * spr / self.samples_per_round

    @property
    def envelope(self) -> tuple[float, float]:
        """What an unpredictable curve still says: its accuracy lies between chance (less
        BELOW_CHANCE, where one class is rarer in the test set) and the centralised reference run's
        level (1 without one)."""
        lo = max(float(self.accuracy.floor) - BELOW_CHANCE, 0.0) if self.accuracy.floor > 0 else 0.0
        return lo, float(self.ceiling) if self.ceiling == self.ceiling else 1.0

    def predict(self, rounds: int, samples_per_round: float | None = None) -> dict:
        if self.unpredictable:
            lo, hi = self.envelope
            return {"value": None, "low": lo, "high": hi, "at_round": int(rounds), "configuration": self.configuration,
                    "unpredictable": True, "why": self.unpredictable}
        x = self.x_of(rounds, samples_per_round)
        lo, hi = self.accuracy.band(x)
        out = {"value": float(np.clip(self.accuracy.mean(x), 0.0, 1.0)), "low": float(lo), "high": float(hi),
               "at_round": int(rounds), "plateau": min(self.accuracy.plateau, 1.0),
               "configuration": self.configuration, "family": self.accuracy.family}
        if self.loss is not None:
            out["test_loss"] = float(max(self.loss.mean(x), 0.0))
        if self.ceiling == self.ceiling:          # the centralised level that bounded the plateau
            out["ceiling"] = float(self.ceiling)
        return out

    def rounds_to(self, target: float, samples_per_round: float | None = None) -> dict:
        """Rounds to the target at this pace: the central estimate and the band's (optimistic,
        pessimistic) range; None where not reached within MAX_ROUNDS."""
        if self.unpredictable:
            return {"rounds": None, "fastest": None, "slowest": None}
        scale = (samples_per_round or self.samples_per_round) / self.samples_per_round   # x per round

        def rounds(x):
            if x is None or not math.isfinite(x):
                return None
            r = max(1, math.ceil(x / scale - 1e-9))
            return r if r <= MAX_ROUNDS else None

        central = rounds(self.accuracy.first_reaching(target))
        hi_x = _first_x(lambda x: self.accuracy.band(x)[1], target)
        lo_x = _first_x(lambda x: self.accuracy.band(x)[0], target)
        return {"rounds": central, "fastest": rounds(hi_x), "slowest": rounds(lo_x)}
