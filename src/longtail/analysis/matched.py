"""Q2, the stricter question: is a group of test examples (CIEs, PIEs) more influenced than the
agreeing test examples *of the same difficulty*? Every group member is used.

Difficulty d_i is test example i's trial accuracy (the share of the trials that get it right); v_i
is what is compared, the excess of the statistic over its influence-free null (estimate.null), so
that the estimator's noise, which grows with d_i (1 - d_i), is already taken out. One least-squares
fit over the group and the comparison examples:

    v_i  = f(d_i) + diff [i in the group] + e_i
    f(d) = a + b d + sum_k c_k max(d - q_k, 0) + m_0 [d = 0] + m_1 [d = 1]

f is a linear spline, its knots q_k at quantiles of the comparison examples' difficulties strictly
between 0 and 1 (KNOTS at most, one per MIN_PER_KNOT distinct such difficulties; tied quantiles
merge), with a level of its own at d = 0 and
at d = 1 where comparison examples sit there: an example every trial gets right has excess exactly
0, a point mass rather than a point on the curve. diff is the group's difference from comparison
examples of its difficulty; where comparison examples are sparse the curve follows the group there,
and those members weigh little (no difference is claimed where nothing can be compared).

diff's variance is the one it has under the null, where group members are like comparison examples
of their difficulty (the exchangeability the strata permutation test assumed): each example's
variance is s2(d_i), the same spline fitted to the comparison's squared residuals (each over 1 - its
leverage; where the spline dips to 0 or below strictly between 0 and 1, the smallest positive
value it takes there), and Var(diff) is the sandwich [(X'X)^-1 X' diag(s2) X (X'X)^-1] at diff. So
a handful of group members is compared with the comparison's spread, not with their own two or
three residuals. p is two-sided against Student's t with the comparison fit's residual degrees of
freedom; the interval is the test inverted under a shift of the group's values, diff -/+ t_{0.975} se.

A group member whose difficulty lies outside the comparison examples' range is fitted by the
spline's end segment carried on: `extrapolated` counts them; they are used, not dropped.

Why not strata: matching within strata of trial accuracy 0.02 wide (the previous method,
benchmarks/baselines/strata.py) drops every member whose stratum holds no agreeing example, 4 of
digits' 5 CIEs; the spline borrows strength from neighbouring difficulties. Two other fits were
measured and dropped: the curve fitted to the comparison alone, then the group measured against
it, rejects 20% of fake groups of 30 on digits (where the hard agreeing examples run out, it
extrapolates); and the group's own residuals for its variance (HC3, n - 1 degrees of freedom) loses
most of the power on groups of 5 and 10. Calibration and power of the spline and of the strata test
on the same planted groups: BENCHMARKS.md. Difficulty and the excess come from the same
trials: the null conditions on each example's trials, so under no influence the excess has mean 0
whatever its trial accuracy (BENCHMARKS.md also draws groups by the accuracy of independent trials).
"""

import numpy as np
from scipy import stats

from longtail.analysis.stats import mean_or_none

KNOTS = 20  # at most this many knots
MIN_PER_KNOT = 5  # comparison examples strictly between 0 and 1 per knot


def spline_basis(difficulty: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, int]:
    """(design matrix [n, p] of f over `difficulty`, its knot count), knots and point masses placed
    from the `reference` difficulties (the comparison examples')."""
    interior = reference[(reference > 0) & (reference < 1)]
    k = min(KNOTS, len(np.unique(interior)) // MIN_PER_KNOT)
    knots = np.unique(np.quantile(interior, np.arange(1, k + 1) / (k + 1))) if k else np.empty(0)
    columns = [np.ones_like(difficulty), difficulty, *(np.maximum(difficulty - q, 0) for q in knots)]
    columns += [(difficulty == mass).astype(float) for mass in (0.0, 1.0) if (reference == mass).any()]
    return np.column_stack(columns), len(knots)


def adjusted_test(values: np.ndarray, group: np.ndarray, comparison: np.ndarray, difficulty: np.ndarray, *,
                  confidence: float = 0.95, design_effect: float | None = None) -> dict:
    """`values` of the `group` against those of the `comparison` (bool masks over the same test
    examples; the group is left out of the comparison) at equal `difficulty` (trial accuracy in
    [0, 1]); see the module docstring. The variance of diff is multiplied by `design_effect` where
    given (null.design_effect). NaN values are left out. Returns {p, diff, diff_low, diff_high, se, df,
    n (group members used), extrapolated (of them, outside the comparison's difficulties),
    comparison_n, knots, raw_diff (the difference of means, difficulty ignored), group_difficulty,
    comparison_difficulty}; p and the differences are None with fewer than two group members or
    fewer comparison examples than the spline has parameters, plus one."""
    values, difficulty = np.asarray(values, dtype=np.float64), np.asarray(difficulty, dtype=np.float64)
    finite = np.isfinite(values)
    g, c = group & finite, comparison & finite & ~group
    dg, dc = difficulty[g], difficulty[c]
    low, high = (dc.min(), dc.max()) if dc.size else (np.inf, -np.inf)
    result = {"n": int(g.sum()), "extrapolated": int(((dg < low) | (dg > high)).sum()), "comparison_n": int(c.sum()),
              "group_difficulty": mean_or_none(dg), "comparison_difficulty": mean_or_none(dc),
              "raw_diff": mean_or_none(values[g]) - mean_or_none(values[c]) if g.any() and c.any() else None}
    basis, knots = spline_basis(dc, dc)
    if g.sum() < 2 or c.sum() <= basis.shape[1]:
        return {"p": None, "diff": None, "diff_low": None, "diff_high": None, "se": None, "df": None,
                "knots": 0} | result

    # The null's variance function, from the comparison alone: its squared residuals (over 1 - leverage,
    # unbiased) smoothed by the same spline.
    bread = np.linalg.pinv(basis.T @ basis)
    residual = values[c] - basis @ (bread @ (basis.T @ values[c]))
    leverage = np.einsum("ij,jk,ik->i", basis, bread, basis)
    squared = np.where(leverage < 1 - 1e-9, residual**2 / np.maximum(1 - leverage, 1e-9), 0.0)
    used = g | c
    at_used = spline_basis(difficulty[used], dc)[0]
    spread = at_used @ (bread @ (basis.T @ squared))  # s2(d_i)
    interior = (difficulty[used] > 0) & (difficulty[used] < 1)
    positive = spread[interior & (spread > 0)]
    # Only at the point masses is a variance of 0 real (every trial right: excess exactly 0).
    spread = np.where(interior & (spread <= 0), positive.min() if positive.size else 0.0, np.maximum(spread, 0))

    x = np.column_stack([at_used, g[used].astype(float)])
    y = values[used]
    bread = np.linalg.pinv(x.T @ x)
    diff = float((bread @ (x.T @ y))[-1])
    variance = float((bread @ (x.T * spread) @ x @ bread)[-1, -1])
    se = float(np.sqrt(max(variance, 0.0) * (design_effect or 1.0)))
    df = int(c.sum()) - basis.shape[1]
    scale = np.abs(y).max() or 1.0
    # The comparison sits on its spline: no spread to borrow. Judged on its residuals, not on se, whose
    # rounding error (about 1e-12 of the values here, more on some CPUs) says nothing.
    if se <= 1e-12 * scale or np.abs(residual).max() <= 1e-9 * scale:
        if np.abs(y - x @ (bread @ (x.T @ y))).max() > 1e-9 * scale:  # the group varies, the comparison not
            return {"p": None, "diff": None, "diff_low": None, "diff_high": None, "se": None, "df": None,
                    "knots": knots} | result
        p = 1.0 if abs(diff) <= 1e-9 * scale else 0.0
    else:
        p = float(2 * stats.t.sf(abs(diff) / se, df))
    half = float(stats.t.ppf((1 + confidence) / 2, df)) * se
    return {"p": p, "diff": diff, "diff_low": diff - half, "diff_high": diff + half, "se": se, "df": df,
            "knots": knots} | result
