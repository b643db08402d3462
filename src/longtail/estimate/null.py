"""The influence-free null: what each per-test-example statistic would be if no training example
influenced any test example, and so how much of it is the estimator's noise.

An influence estimate is a difference of two averages of a test example's 0/1 correctness over
trials, so it spreads with that correctness's variance p (1 - p) even where nothing influences the
example; the largest of n_train such estimates (max_influence), and the memorization of the training
example that gives it (top_memorization), grow with it. CIEs are examples the trials often get
wrong, so a raw comparison "finds" influence on them that is noise of the trials (docs/questions.md).

No influence means: trial k's correctness of the test examples, D[k, :], does not depend on which
training examples trial k kept. Each draw r permutes the trials of D against the masks M (whole
rows: every example keeps its trial accuracy, and the test examples keep their correlation across
trials, the trial-to-trial swings of a whole model) and computes every statistic as the estimate
stage does (influence.strongest, influence.mean_influences):

    draws[r, i]  the statistic of test example i on the r-th influence-free permutation
    null[i]      = mean over r of draws[r, i]: its expected value without influence
    excess[i]    = statistic[i] - null[i]

mean_influence's null is exactly 0 in expectation (each masked difference has mean
s a_j / (t a_j) - (s - s a_j / t) / b_j = 0 for an example right in s of the t trials, a_j + b_j = t);
its draws still give its noise. An example every trial gets right (or wrong) has one arrangement:
its draws all equal its statistic, its excess is exactly 0.

The draws also say how far the tests' own error bars can be trusted: two hard examples that the
same trials get wrong have correlated estimates, and top_memorization's excess is skewed, so a
group's mean excess varies more than Welch's t or a least-squares fit assume. design_effect
measures that on the draws, and the ttest's two questions widen their standard errors by it.
"""

import numpy as np

from longtail.estimate import influence


def influence_free(masks: np.ndarray, test_correct: np.ndarray, memorization: np.ndarray, *, draws: int,
                   seed: int, rows: int | None = None, device: str | None = None) -> dict[str, np.ndarray]:
    """statistic name (stats.STATISTICS) -> float64 [draws, n_test], its value on `draws` permutations
    of the trials of test_correct [t, n_test] against masks [t, n_train] (numpy's default_rng(seed));
    memorization [n_train] gives top_memorization; rows: test columns per influence block; device:
    where the products run (influence.on_device)."""
    rng = np.random.default_rng(seed)
    out = {"max_influence": [], "top_memorization": [], "mean_influence": []}
    for _ in range(draws):
        shuffled = test_correct[rng.permutation(len(test_correct))]
        value, top = influence.strongest(masks, shuffled, rows, device)
        out["max_influence"].append(value)
        out["top_memorization"].append(influence.top_memorization(top, memorization))
        out["mean_influence"].append(influence.mean_influences(masks, shuffled, train=False)[0])
    return {name: np.array(values, dtype=np.float64) for name, values in out.items()}


def by_count(masks: np.ndarray, test_correct: np.ndarray, memorization: np.ndarray, *, draws: int,
             seed: int, rows: int | None = None) -> dict[str, np.ndarray]:
    """influence_free's marginal null for 0/1 test correctness at a fraction of its cost: statistic
    name -> float64 [draws, n_test], each example's value on `draws` influence-free arrangements of
    its own trials, exact in distribution example by example; not jointly (below).

    Permuting whole trials turns test example i's column into a uniformly random arrangement of its
    c_i correct trials whatever the other columns do, and its statistics depend on that column and
    the masks alone: their null distribution is a function of c_i. Draw r takes one permutation s_r
    of the trials and, for every count c present, the column right in the first c trials of s_r (a
    uniformly random set of c trials): its statistics are those of every example right in c trials.
    The columns of one permutation are nested prefixes, so their masked sums are the running sums of
    M's rows in s_r's order, one pass over M per draw, and the influence rows of all counts form one
    block (rows: counts per block, default_chunk_rows), computed as influence_blocks computes a
    column (the same float32 counts and operations: a prefix's row is that column's row bit for bit).

    The examples' draws are not influence_free's joint ones: examples with one count share theirs,
    and nested prefixes make neighbouring counts' draws alike, so averages over examples carry the
    draws' Monte-Carlo error together (across r it is still independent: a group's null mean has
    Monte-Carlo variance var_r(group mean of draw r) / draws). Examples no trial disagrees on keep
    their statistic in every draw, as influence_free gives them (excess exactly 0)."""
    t = len(masks)
    if test_correct.dtype != bool:
        raise ValueError(f"by_count needs 0/1 correctness (bool), got {test_correct.dtype}: a soft target's null "
                         "is influence_free's")
    rng = np.random.default_rng(seed)
    count, varies = test_correct.sum(0), influence.varying_columns(test_correct)
    present = np.unique(count[varies])  # 0 and t have one arrangement: the example's own column
    row = np.searchsorted(present, count[varies])  # each varying example's count among them
    # The constant columns' statistics as the stage computes them, which no arrangement changes
    fixed_value, fixed_top = influence.strongest(masks, test_correct[:, ~varies], rows)
    # all columns: the stage's rounding
    fixed_mean = influence.mean_influences(masks, test_correct, train=False)[0][~varies]
    orders = [rng.permutation(t) for _ in range(draws)]
    value, prefix_top, mean = influence.prefixes(masks, orders, present, rows)

    def per_example(table, fixed):  # [draws, n_test]: an example's count's draws, or its own value
        found = np.empty((draws, len(count)), table.dtype)
        found[:, varies], found[:, ~varies] = table[:, row], fixed
        return found

    return {"max_influence": per_example(value, fixed_value), "mean_influence": per_example(mean, fixed_mean),
            "top_memorization": influence.top_memorization(per_example(prefix_top, fixed_top), memorization)}


def sample_columns(n_test: int, tested: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(columns, sampled): the test examples whose joint draws the two questions and harm need, and
    which of them are a uniform random sample of the whole test set. columns are every tested
    example (`tested`, bool [n_test]: every group's members) and the `size` drawn (numpy's
    default_rng(seed), without replacement; all where size >= n_test), in increasing order; sampled,
    bool [len(columns)], marks the drawn. A comparison (or a harm target's controls) is then measured
    on its members among the drawn, a uniform sample of it, and a group on all of its own."""
    drawn = np.zeros(n_test, bool)
    drawn[np.random.default_rng(seed).permutation(n_test)[:size]] = True
    columns = np.flatnonzero(drawn | np.asarray(tested, bool))
    return columns, drawn[columns]


def excess(values: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Each test example's statistic minus its null value, the mean of its influence-free draws [R, n]."""
    return np.asarray(values, dtype=np.float64) - np.asarray(draws, dtype=np.float64).mean(0)


def excess_draws(draws: np.ndarray, means: np.ndarray | None = None) -> np.ndarray:
    """[R, n]: each draw's excess over the null. means: the null values the observed excess was
    formed with, where they come from other draws (by_count's, or the estimate's where these are the
    joint draws on a sample of the test set): each draw is then exchangeable with the observed
    statistic, and its excess over those means spreads as the observed excess does under the null,
    their Monte-Carlo error included (a fixed offset per example, in both alike). None: over the mean
    of the other R - 1 draws (leave one out, so that a draw is not measured against a mean that
    holds it), where these draws gave the means."""
    draws = np.asarray(draws, dtype=np.float64)
    if means is not None:
        return draws - np.asarray(means, dtype=np.float64)
    return draws - (draws.sum(0) - draws) / (len(draws) - 1)


def design_effect(test, draws: np.ndarray, means: np.ndarray | None = None) -> float | None:
    """How much wider a test's standardized difference spreads on influence-free trials than its
    reference distribution says: the larger of two measures, each 1 where the examples' noise is
    independent and normal.

      variance ratio   mean_r diff_r^2 / mean_r se_r^2 (the null's mean being 0): se^2 is unbiased
                       for the difference's variance at every group size, so it is finite and about
                       1 even for a group of 2, where Welch's df is about 1 and t^2 has no mean.
      t spread         mean_r t_r^2 / mean_r df_r / (df_r - 2), over the draws with df_r > 4 (t^2's
                       mean, and the mean's own spread, exist there), where most draws have them.
                       It sees what the ratio misses: top_memorization's excess is skewed and
                       clustered (examples the same trials get wrong share their most influential
                       training example, so a group's values can agree and be large together: a
                       large difference over a small se), which made Q1 reject 22% at size 10 on
                       the ratio alone.

    It grows where the noise is shared (two hard examples that the same trials get wrong) or skewed,
    both of which Welch's t and least squares ignore. An estimate, not a bound: with independent
    noise it is below 1 about half the time; with fewer than TRUSTED_DRAWS draws a value under 1 is
    not trusted (its relative error is about sqrt(2 / R)).
    `test` maps a vector of excesses to {diff, se, df}; `draws` is [R, n] from influence_free, means
    as excess_draws. None where it cannot be measured (fewer than 3 draws with a spread)."""
    results = _measured(test, draws, means)
    if results is None:
        return None
    diff, se = np.array([[r["diff"], r["se"]] for r in results]).T
    effect = float(np.mean(diff**2) / np.mean(se**2))
    df = np.array([np.inf if r["df"] is None else r["df"] for r in results])
    finite = df > 4
    if finite.sum() >= 3 and finite.mean() >= 0.5:
        t2, expected = (diff[finite] / se[finite]) ** 2, np.where(np.isinf(df[finite]), 1.0, df[finite] / (df[finite] - 2))
        effect = max(effect, float(t2.mean() / expected.mean()))
    return effect if len(results) >= TRUSTED_DRAWS else max(1.0, effect)


TRUSTED_DRAWS = 20  # draws from which a design effect under 1 is used as measured


def noise(draws: np.ndarray, group: np.ndarray, comparison: np.ndarray, means: np.ndarray | None = None,
          sizes: tuple[int, int] | None = None) -> tuple[float, float]:
    """(the variance of the group's mean, of the comparison's) on influence-free trials: each draw's
    excess (excess_draws, with `means`), their sample variances over their sizes, averaged over the
    draws. sizes: the group's and the comparison's sizes where the draws hold a sample of them
    (sample_columns); their own where None. Q1 refers a small group's Welch statistic to its
    distribution at these (stats.welch_tail): a group of 2 or 3 estimates its own spread from 1 or 2
    values, the R draws from R times as many."""
    rows = excess_draws(draws, means)
    parts = [(np.nanvar(row[group], ddof=1) / (sizes[0] if sizes else np.isfinite(row[group]).sum()),
              np.nanvar(row[comparison], ddof=1) / (sizes[1] if sizes else np.isfinite(row[comparison]).sum()))
             for row in rows]
    a, b = np.nanmean(np.array(parts, dtype=np.float64), axis=0)
    return float(a), float(b)


def _measured(test, draws: np.ndarray, means: np.ndarray | None = None) -> list[dict] | None:
    """`test` on every draw's excess (excess_draws), those with a difference and a spread."""
    results = [test(row) for row in excess_draws(draws, means)]
    results = [r for r in results if r["diff"] is not None and r["se"] and r["se"] > 1e-12 * (abs(r["diff"]) or 1)]
    return results if len(results) >= 3 else None
