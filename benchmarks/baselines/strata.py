"""The baseline the difficulty-adjusted comparison (analysis.matched) replaced, kept for the
benchmarks that measure both (benchmarks/calibration.py): a group of test examples against the
agreeing test examples in the same narrow stratum of difficulty, by permutation within strata.
It drops every group member whose stratum holds no agreeing example (4 of digits' 5 CIEs).

Every influence statistic grows with how often the trials disagree on an example: an example right
in a share p of the trials has correctness variance p (1 - p), and its influence estimates (and
their maximum over training examples) spread with it, even where no training example influences it
at all. CIEs are hard examples, so a raw comparison with the agreeing examples finds them "more
influenced" by difficulty alone. Here difficulty is the trial accuracy of test example i, the mean
over trials of D[k, i], and the comparison is made within strata of it:

    stratum s       trial accuracy in [s w, (s + 1) w), w = ttest.strata_width (the last one closed)
    G_s, C_s        the group's and the comparison's examples in stratum s (strata with both)
    diff            mean over the group's matched examples i of (v_i - mean of v over C_s(i))
    p               a permutation test: group labels shuffled within each stratum, two-sided,
                    (1 + #{|diff*| >= |diff| - tol}) / (1 + draws)
    interval        the test inverted under a shift model: diff minus the central `confidence`
                    quantiles of the permutation distribution of diff (0 lies outside it when p
                    is below 1 - confidence, up to the permutations' resolution)

Group members in a stratum without comparison examples cannot be matched; they are counted
(`unmatched`) and left out. A group that fills its strata leaves every permutation equal to the
observed one: the tolerance `tol` (a relative 1e-9) keeps floating-point rounding from deciding
such ties, which then give p = 1, not a random 0 or 1.
"""

import numpy as np

from longtail.analysis.stats import mean_or_none

BATCH = 256  # permutations drawn at once: memory BATCH x pool size


def strata(difficulty: np.ndarray, width: float) -> np.ndarray:
    """Stratum index of each example: floor(difficulty / width), 1.0 in the last stratum."""
    last = int(np.ceil(1 / width - 1e-9)) - 1
    return np.minimum(np.floor(np.asarray(difficulty) / width + 1e-9), last).astype(np.int64)


def matched_test(values: np.ndarray, group: np.ndarray, comparison: np.ndarray, difficulty: np.ndarray, *,
                 width: float = 0.02, draws: int = 2000, confidence: float = 0.95,
                 seed: int = 0) -> dict:
    """`values` of the `group` examples against those of the `comparison` examples (bool masks over
    the same examples) of matching `difficulty` (trial accuracy in [0, 1]); see the module docstring.
    NaN values are left out. Returns {p, diff, diff_low, diff_high, raw_diff (the unmatched
    difference of means), n (matched group examples), unmatched, comparison_n (comparison examples
    in the strata used), strata (how many), width, draws, group_difficulty, comparison_difficulty
    (mean trial accuracy of the group and of all comparison examples)}; p and diff are None when no
    group example can be matched."""
    values, difficulty = np.asarray(values, dtype=np.float64), np.asarray(difficulty, dtype=np.float64)
    finite = np.isfinite(values)
    g, c = group & finite, comparison & finite & ~group
    stratum = strata(difficulty, width)
    used = np.intersect1d(stratum[g], stratum[c])
    g_idx, c_idx = (np.flatnonzero(m & np.isin(stratum, used)) for m in (g, c))
    g_idx, c_idx = (idx[np.argsort(stratum[idx], kind="stable")] for idx in (g_idx, c_idx))  # by stratum
    result = {"n": len(g_idx), "unmatched": int(g.sum()) - len(g_idx), "comparison_n": len(c_idx),
              "strata": len(used), "width": width, "draws": draws,
              "group_difficulty": mean_or_none(difficulty[g]), "comparison_difficulty": mean_or_none(difficulty[c]),
              "raw_diff": mean_or_none(values[g]) - mean_or_none(values[c]) if g.any() and c.any() else None}
    if not len(g_idx):
        return {"p": None, "diff": None, "diff_low": None, "diff_high": None} | result

    pool = np.concatenate([g_idx, c_idx])
    s = np.searchsorted(used, stratum[pool])  # 0 .. S-1
    n_g = np.bincount(s[: len(g_idx)], minlength=len(used))
    n_c = np.bincount(s[len(g_idx) :], minlength=len(used))
    v = values[pool]
    # diff = (1/N) sum_s [sum_{G_s} v - n_g(s) (T_s - sum_{G_s} v) / n_c(s)], T_s the stratum's total:
    # linear in the group's values, weighted 1 + n_g(s)/n_c(s), minus a constant of the pool.
    x = (1 + n_g / n_c)[s] * v
    const = (n_g * np.bincount(s, weights=v, minlength=len(used)) / n_c).sum()
    N = len(g_idx)
    observed = (x[:N].sum() - const) / N

    rng = np.random.default_rng(seed)
    order_by_stratum = np.argsort(s, kind="stable")
    sorted_s = s[order_by_stratum]
    start = np.searchsorted(sorted_s, np.arange(len(used)))
    slot = (np.arange(len(pool)) - start[sorted_s]) < n_g[sorted_s]  # the first n_g(s) places of each stratum
    permuted = []
    for b in range(0, draws, BATCH):
        keys = sorted_s + rng.random((min(BATCH, draws - b), len(pool)))  # random order within each stratum
        chosen = order_by_stratum[np.argsort(keys, axis=1)[:, slot]]
        permuted.append((x[chosen].sum(1) - const) / N)
    permuted = np.concatenate(permuted)
    tol = 1e-9 * np.abs(x).sum() / N
    p = (1 + np.sum(np.abs(permuted) >= abs(observed) - tol)) / (1 + draws)

    # The test inverted under a shift model (the group's values moved by delta): the deltas it would
    # not reject at 1 - confidence, read off the permutation distribution of diff.
    low, high = observed - np.quantile(permuted, [(1 + confidence) / 2, (1 - confidence) / 2])
    return {"p": float(p), "diff": float(observed), "diff_low": float(low), "diff_high": float(high)} | result

