"""Does a per-test-example quantity (the influence on it) differ on a group of test examples (CIEs,
PIEs) from the test examples where both models agree?

Beside the seed paper's Student's t-test: Welch's t-test (unequal variances), Mann-Whitney U (no
normality assumption: influence distributions are heavy-tailed), Hedges' g with its noncentral-t
confidence interval (how large the difference is, not only whether it exists), Benjamini-Hochberg
adjusted p-values across many comparisons, and a random-subset control (how often a random set of
test examples of the same size looks as extreme).
"""

import math
import warnings

import numpy as np
from scipy import optimize, stats

from longtail import layout

# The per-test-example quantities ttest can compare (ttest.statistic), and the file of
# data/influence/ the estimate stage writes each one to, its influence-free draws (estimate.null) beside it.
STATISTICS = layout.STATISTICS
FILES = {name: layout.statistic_file(name) for name in STATISTICS}
NULL_FILES = {name: layout.null_file(name) for name in STATISTICS}

NULL = {"t": None, "p": None, "welch_t": None, "welch_p": None, "mw_u": None, "mw_p": None,
        "hedges_g": None, "g_low": None, "g_high": None}


def hedges_g(group: np.ndarray, comparison: np.ndarray, axis: int = -1) -> np.ndarray:
    """Hedges' g: the difference of means over the pooled standard deviation, times the small-sample
    correction J = 1 - 3 / (4 (n1 + n2) - 9) (Hedges 1981). Vectorised along `axis` for the bootstrap."""
    n1, n2 = group.shape[axis], comparison.shape[axis]
    pooled = ((n1 - 1) * group.var(axis=axis, ddof=1) + (n2 - 1) * comparison.var(axis=axis, ddof=1)) / (n1 + n2 - 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (group.mean(axis=axis) - comparison.mean(axis=axis)) / np.sqrt(pooled)
    return d * (1 - 3 / (4 * (n1 + n2) - 9))


def two_sample_tests(group: np.ndarray, comparison: np.ndarray, *, confidence: float = 0.95) -> dict:
    """`group` against `comparison`: Student's t (equal variances, as Dam et al. 2023), Welch's t,
    Mann-Whitney U (two-sided), Hedges' g and its `confidence` interval (g_interval). NaN values are
    left out. With fewer than two values on a side the statistics are None and a warning says why."""
    group, comparison = group[np.isfinite(group)], comparison[np.isfinite(comparison)]
    sizes = {"n": len(group), "comparison_n": len(comparison),
             "mean": mean_or_none(group), "comparison_mean": mean_or_none(comparison)}
    if len(group) < 2 or len(comparison) < 2:
        warnings.warn(f"the tests need two or more values per group; got {len(group)} and {len(comparison)}")
        return NULL | sizes
    if np.ptp(np.concatenate([group, comparison])) == 0:
        warnings.warn("every value is the same: there is no difference to test")
        return NULL | sizes
    with warnings.catch_warnings():  # a constant group makes scipy warn; its variance 0 is exact
        warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
        student = stats.ttest_ind(group, comparison, equal_var=True)
        welch = stats.ttest_ind(group, comparison, equal_var=False)
    mw = stats.mannwhitneyu(group, comparison, alternative="two-sided")
    g = hedges_g(group, comparison)
    low, high = g_interval(float(student.statistic), len(group), len(comparison), confidence)
    return {"t": float(student.statistic), "p": float(student.pvalue),
            "welch_t": float(welch.statistic), "welch_p": float(welch.pvalue),
            "mw_u": float(mw.statistic), "mw_p": float(mw.pvalue),
            "hedges_g": float(g), "g_low": low, "g_high": high} | sizes


def g_interval(t: float, n1: int, n2: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """The `confidence` interval of the standardized difference delta = (mu1 - mu2) / sigma that
    Hedges' g estimates, from Student's t of the two samples: t is noncentral t on n1 + n2 - 2 df
    with noncentrality delta sqrt(n1 n2 / (n1 + n2)), inverted at each tail (Hedges & Olkin 1985;
    Steiger & Fouladi 1997). Exact for normal values of one variance, at every size: the percentile
    bootstrap it replaced covered 45 to 55% at n1 = 2 and 78 to 90% at 3 to 10 (benchmarks/coverage.py)."""
    df, scale = n1 + n2 - 2, math.sqrt(n1 * n2 / (n1 + n2))
    tail = (1 - confidence) / 2
    if not math.isfinite(t):  # no spread within either sample: no interval
        return None, None

    def noncentrality(target: float) -> float:  # the ncp at which P(T >= t) = target, increasing in ncp
        f = lambda ncp: stats.nct.sf(t, df, ncp) - target  # noqa: E731
        width = 2 + abs(t)
        low, high = t - width, t + width
        while f(low) > 0:
            low -= width
        while f(high) < 0:
            high += width
        return optimize.brentq(f, low, high, xtol=1e-10)

    return noncentrality(tail) / scale, noncentrality(1 - tail) / scale


def welch_difference(group: np.ndarray, comparison: np.ndarray, *, confidence: float = 0.95,
                     design_effect: float | None = None, noise: tuple[float, float] | None = None) -> dict:
    """mean(group) - mean(comparison) with Welch's t (unequal variances): {p (two-sided), diff,
    diff_low, diff_high (its `confidence` interval), se, df (Welch-Satterthwaite), n,
    comparison_n, mean, comparison_mean}. The variance of the difference is multiplied by
    `design_effect` where given (null.design_effect: noise shared across examples). noise = (the
    variance of the group's mean, of the comparison's) on influence-free trials (null.noise), where
    given and the group is small (< SMALL) against a comparison that is not: p and the interval then
    come from Welch's statistic's own distribution under normality at those variances (welch_tail),
    not from Student's t at Welch's df, which rejects 10.6% at alpha 0.05 for a group of 2 (its df
    and its variance estimate move together). NaN values are left out; p and the differences are
    None with fewer than two values on a side; where no value varies on either side p is 1 if the
    means agree and 0 if not (df None)."""
    group, comparison = group[np.isfinite(group)], comparison[np.isfinite(comparison)]
    result = {"n": len(group), "comparison_n": len(comparison), "mean": mean_or_none(group),
              "comparison_mean": mean_or_none(comparison)}
    if len(group) < 2 or len(comparison) < 2:
        return {"p": None, "diff": None, "diff_low": None, "diff_high": None, "se": None, "df": None} | result
    diff = float(group.mean() - comparison.mean())
    a, b = group.var(ddof=1) / len(group), comparison.var(ddof=1) / len(comparison)
    se = float(np.sqrt((a + b) * (design_effect or 1.0)))
    if se == 0:  # two constant sides
        return {"p": 1.0 if diff == 0 else 0.0, "diff": diff, "diff_low": diff, "diff_high": diff, "se": 0.0,
                "df": None} | result
    df = float((a + b) ** 2 / (a**2 / (len(group) - 1) + b**2 / (len(comparison) - 1)))
    if noise and len(group) < SMALL <= len(comparison) and noise[0] > 0:
        k = len(group) - 1
        p = welch_tail(abs(diff) / se, k, *noise)
        half = optimize.brentq(lambda c: welch_tail(c, k, *noise) - (1 - confidence), 0.0,
                               float(stats.t.ppf((1 + confidence) / 2, k)) + 1.0, xtol=1e-8) * se
    else:
        p, half = float(2 * stats.t.sf(abs(diff) / se, df)), float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return {"p": float(p), "diff": diff, "diff_low": diff - half, "diff_high": diff + half, "se": se, "df": df} | result


SMALL = 30  # below this many group values, Welch's df misjudges its own tails (welch_difference)


def welch_tail(t: float, k: int, group_variance: float, comparison_variance: float) -> float:
    """P(|T| >= t) for Welch's statistic T = diff / sqrt(s_a^2 + s_b^2) where diff is normal of variance
    a + b, s_a^2 is a chi^2_k / k (the group's variance of its mean, k = n - 1 degrees of freedom)
    and s_b^2 = b (a comparison large enough to know its own): the exact distribution under
    normality, one integral over the group's chi^2 (on a log grid, down to chi^2 = 1e-30 so that p
    holds to about 1e-15). Student's t_k is its limit for b -> 0 (whose heavy tails come from a small
    s_a^2, which b bounds away from 0)."""
    a, b = group_variance, comparison_variance
    x = np.exp(_LOG_GRID) * max(1.0, k)  # chi^2_k values, log-spaced
    density = stats.chi2.pdf(x, k) * x  # d chi^2 = x d log x
    inside = 2 * stats.norm.sf(t * np.sqrt((a * x / k + b) / (a + b)))
    return float(min(1.0, np.trapezoid(inside * density, _LOG_GRID)))


_LOG_GRID = np.linspace(np.log(1e-30), np.log(200.0), 6000)


def paired_difference(group: np.ndarray, comparison: np.ndarray, *, confidence: float = 0.95) -> dict:
    """mean(group - comparison) of paired values (member m of each from one seed), with the paired
    t: the keys of welch_difference, df = pairs - 1. Pairs with a NaN are left out; None with fewer
    than two pairs; where every difference is the same, p is 1 if it is 0 and 0 if not (df None)."""
    both = np.isfinite(group) & np.isfinite(comparison)
    d = group[both] - comparison[both]
    result = {"n": int(both.sum()), "comparison_n": int(both.sum()), "mean": mean_or_none(group[both]),
              "comparison_mean": mean_or_none(comparison[both])}
    if len(d) < 2:
        return {"p": None, "diff": None, "diff_low": None, "diff_high": None, "se": None, "df": None} | result
    diff, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))
    if np.ptp(d) == 0:
        return {"p": 1.0 if diff == 0 else 0.0, "diff": diff, "diff_low": diff, "diff_high": diff, "se": 0.0,
                "df": None} | result
    df = len(d) - 1
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return {"p": float(2 * stats.t.sf(abs(diff) / se, df)), "diff": diff, "diff_low": diff - half,
            "diff_high": diff + half, "se": se, "df": float(df)} | result


def trials_to_detect(trials: int, se: float | None, diff: float | None, alpha: float, power: float = 0.8) -> int | None:
    """The trials at which a difference `diff`, with standard error `se` at `trials` trials, would be
    found at `alpha` (two-sided) with `power`, if its standard error shrank as 1 / sqrt(trials):
    trials (z_{1 - alpha/2} + z_power)^2 se^2 / diff^2. A lower bound: the part of se that is the
    examples' own spread, not the trials' noise, does not shrink. None without a difference."""
    if se is None or not diff:
        return None
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return max(2, math.ceil(trials * (z * se / diff) ** 2))


def benjamini_hochberg(pvalues) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (scipy.stats.false_discovery_control) of the p-values that
    exist; None (an untestable comparison) stays None and does not count as a hypothesis."""
    values = [p for p in pvalues if p is not None and np.isfinite(p)]
    adjusted = iter(stats.false_discovery_control(values, method="bh") if values else [])
    return [float(next(adjusted)) if p is not None and np.isfinite(p) else None for p in pvalues]


def random_control(values: np.ndarray, size: int, comparison: np.ndarray, observed_t: float | None, *,
                   draws: int = 1000, seed: int = 0) -> dict:
    """The sanity control: `draws` random sets of `size` test examples (with finite values), each tested
    with Student's t against the `comparison` examples (a bool mask, e.g. where both models agree)
    outside the set. Returns how often a random set is at least as extreme as the observed one
    (|t| >= |observed_t|: an empirical two-sided p-value, with the +1 that counts the observed set)
    and the median and central 95% of the random t."""
    finite = np.isfinite(values)
    if size < 2 or observed_t is None or finite.sum() < size + 2:
        return {"draws": 0, "as_extreme": None, "t_median": None, "t_low": None, "t_high": None}
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(finite)
    chosen = np.zeros((draws, len(values)))
    picks = candidates[np.argsort(rng.random((draws, len(candidates))), axis=1)[:, :size]]
    chosen[np.arange(draws)[:, None], picks] = 1
    rest = (comparison & finite)[None, :] * (1 - chosen)
    t = _student_t(chosen, rest, np.where(finite, values - values[finite].mean(), 0.0))
    t = t[np.isfinite(t)]
    return {"draws": len(t),
            "as_extreme": float((1 + np.sum(np.abs(t) >= abs(observed_t))) / (1 + len(t))),
            "t_median": float(np.median(t)), "t_low": float(np.quantile(t, 0.025)),
            "t_high": float(np.quantile(t, 0.975))}


def over_representation(group: np.ndarray, rare: np.ndarray) -> dict:
    """Are the known rare examples (the synthetic set's) over-represented in `group` (bool masks over
    the test set)? Their share in the group, their share overall, and Fisher's exact one-sided p."""
    table = [[int((group & rare).sum()), int((group & ~rare).sum())],
             [int((~group & rare).sum()), int((~group & ~rare).sum())]]
    return {"share": float(rare[group].mean()) if group.any() else None, "overall_share": float(rare.mean()),
            "fisher_p": float(stats.fisher_exact(table, alternative="greater").pvalue)}


def _student_t(a: np.ndarray, b: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Student's t of the values v (centred) selected by each row of the 0/1 matrices a and b: every
    draw at once from sums and sums of squares, as matrix-vector products."""
    n1, n2 = a.sum(1), b.sum(1)
    m1, m2 = a @ v / n1, b @ v / n2
    squares = (a @ v**2 - n1 * m1**2) + (b @ v**2 - n2 * m2**2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (m1 - m2) / np.sqrt(squares / (n1 + n2 - 2) * (1 / n1 + 1 / n2))


def mean_or_none(values: np.ndarray) -> float | None:
    """The mean, or None for no values (JSON's null, not NaN)."""
    return float(values.mean()) if len(values) else None
