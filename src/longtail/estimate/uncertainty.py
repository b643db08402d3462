"""How far to trust the estimates: how many trials a standard error needs, split-half reliability,
and how the estimates settle as trials are added.

A standard error (influence.memorization_se) shrinks as 1 / sqrt(t): t * (se / target)^2 trials
bring a standard error se at t trials to target.

Split-half reliability: the trials split at random into two halves, each statistic estimated on
each half, and the Pearson correlation of the two estimates across examples. Near 1, the
statistic describes the examples; near 0, it is noise of the trials. It is the reliability of an
estimate from t / 2 trials; Spearman-Brown, 2 r / (1 + r), extrapolates it to all t.

A reliability is itself an estimate: split_half_spread gives its spread over further random
splits of the same trials, its error bar. The further splits are halves of 32 groups of trials
(halves.grouped, 16 groups within each half of the estimate's own split), so that the estimate's
one pass computes a product per group and adds them up into every split's halves and its own
(influence.GroupedHalves): 20 splits at CIFAR-10 size cost a combination of 32 products each, not a
pass each. Each split is a uniform random half over the draw of the groups; given them, trials of
one group stay on one side, which takes about 1/32 of a split's variance from the spread (to second
order: the share of pairs of trials in one group); on digits' committed run the grouped spread's
sd is 0.96 to 1.00 of the free splits' over 200 seeds (benchmarks/spread.py, 2026-12-07),
against the spread's own error of 16% at 20 splits. Some are fragile: top_memorization takes the memorization
of each test example's most influential training example, and where influences tie (most test
examples, those every trial gets right, have none above 0) the first of the tied examples is taken.
Its reliability over the consistency run's 256 mlp512 trials on digits spreads from 0.45 to 0.85
between splits (sd 0.10); the same trials trained on two machines gave 0.47 and 0.65, within that.
"""

import math

import numpy as np

from longtail import seeds
from longtail.estimate import consistency, influence
from longtail.estimate.halves import correlation, grouped, halves, sides  # noqa: F401 -- uncertainty.halves, as before
from longtail.layout import STATISTICS  # the per-test-example statistics of ttest.statistic


def trials_for_se(trials: int, se: float, target: float) -> int | None:
    """Trials at which a standard error of `se` at `trials` trials would reach `target` (1 / sqrt(t)
    scaling); None where se is undefined or 0 (no trial disagrees: no count of trials changes it)."""
    if not math.isfinite(se) or se == 0:
        return None
    return max(2, math.ceil(trials * (se / target) ** 2))


def median_se(se: np.ndarray, trials: int, targets=(0.05, 0.02), suffix: str = "") -> dict:
    """{"memorization_se_median<suffix>": the median of the defined standard errors,
    "trials_for_median_se<suffix>": {str(target): trials for it to reach target}}; NaN and None where
    no standard error is defined."""
    median = float(np.nanmedian(se)) if np.isfinite(se).any() else math.nan
    return {f"memorization_se_median{suffix}": median,
            f"trials_for_median_se{suffix}": {str(target): trials_for_se(trials, median, target) for target in targets}}


def estimates(masks, train_correct, test_correct, chunk_rows: int | None = None,
              strongest: tuple[np.ndarray, np.ndarray] | None = None, device: str | None = None
              ) -> dict[str, np.ndarray]:
    """memorization, and each test example's mean_influence, max_influence and top_memorization
    (ttest.statistic), from these trials alone, streaming blocks of the influence matrix (the
    estimate stage computes the same on all trials while it writes the matrix). strongest:
    (max_influence, top_train) of these trials where a pass already gave them (the estimate stage's
    halves): then no block is computed. device: where the products run (influence.on_device)."""
    memorization = influence.memorization(masks, train_correct)
    if strongest is None:
        strongest = influence.strongest(masks, test_correct, chunk_rows, device)
    max_influence, top_train = strongest
    mean_influence = influence.mean_influences(masks, test_correct, train=False)[0]
    return {"memorization": memorization, "mean_influence": mean_influence,
            "max_influence": max_influence, "top_memorization": influence.top_memorization(top_train, memorization)}


def spread_splits(trials: int, seed: int, splits: int, within=None) -> tuple[list[np.ndarray], np.ndarray]:
    """The reliability spread's `splits` splits (halves.grouped: the groups from (seed, SPLITS, 0),
    split i's choice of them from (seed, SPLITS, i + 1)); within: the estimate's own split, whose
    halves no group straddles (the estimate's pass then makes both from the same products)."""
    return grouped(trials, seeds.derive(seed, seeds.SPLITS, 0),
                   [seeds.derive(seed, seeds.SPLITS, i) for i in range(1, splits + 1)], within=within)


def split_half_spread(masks, train_correct, test_correct, seed: int, splits: int,
                      chunk_rows: int | None = None, device: str | None = None, *, within=None,
                      strongest=None) -> dict:
    """The spread of each split-half reliability over `splits` further random splits (spread_splits):
    {name: {"sd", "low", "high"}}, the standard deviation, minimum and maximum of r, None where r is
    undefined in any split (or splits < 2). strongest: the splits' halves' (max_influence, top_train),
    [splits, 2, n_test] each, where the estimate's pass gave them; else influence.grouped_strongest
    on the CPU, each half's strongest on a device (the same arrays)."""
    if splits < 2:
        raise ValueError(f"a spread needs at least 2 splits, got {splits}")
    members, chosen = spread_splits(len(masks), seed, splits, within)
    pairs = [sides(members, row) for row in chosen]
    if strongest is None and device is None:
        strongest = influence.grouped_strongest(masks, test_correct, members, chosen)
    if strongest is None:
        found = [tuple(influence.strongest(masks[h], test_correct[h], chunk_rows, device) for h in pair)
                 for pair in pairs]
    else:
        value, top = strongest
        found = [((value[i, 0], top[i, 0]), (value[i, 1], top[i, 1])) for i in range(splits)]
    memorization, mean_influence = sets_estimates(masks, train_correct, test_correct,
                                                  [h for pair in pairs for h in pair])
    rs = []
    for i, halves_found in enumerate(found):
        a, b = ({"memorization": memorization[h], "mean_influence": mean_influence[h], "max_influence": value,
                 "top_memorization": influence.top_memorization(top, memorization[h])}
                for h, (value, top) in zip((2 * i, 2 * i + 1), halves_found))
        rs.append(reliabilities(a, b, i))
    spread = {}
    for name in ("memorization", *STATISTICS):
        values = [r[name] for r in rs]
        defined = None not in values
        spread[name] = {"sd": float(np.std(values, ddof=1)) if defined else None,
                        "low": min(values) if defined else None, "high": max(values) if defined else None}
    return {"splits": splits} | spread


def sets_estimates(masks, train_correct, test_correct, sets, rows: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """(memorization [s, n_train], mean_influence [s, n_test]): estimates' two that need no influence
    block, on each of `s` sets of trials (index arrays) at once, from products of the sets' 0/1
    [s, trials] membership with the trial arrays (`rows` trials at a time in float64) instead of a
    pass over each set's copy. memorization is influence.memorization's bit for bit for 0/1 targets
    (the same integer counts and arithmetic); mean_influence influence.mean_influences' formula,
    its sums rounded in another order."""
    member = np.zeros((len(sets), len(masks)))
    for row, trials in zip(member, sets):
        row[trials] = 1

    def summed(left, values):  # left [s, trials] @ values [trials, n]
        return sum(left[:, k : k + rows] @ values[k : k + rows].astype(np.float64) for k in range(0, len(masks), rows))

    in_count = summed(member, masks)
    out_count = member.sum(1)[:, None] - in_count
    in_sum = summed(member, masks & train_correct if train_correct.dtype == bool else np.where(masks, train_correct, 0))
    total = summed(member, train_correct)
    in_count, out_count = np.where(in_count > 0, in_count, np.nan), np.where(out_count > 0, out_count, np.nan)
    memorization = in_sum / in_count - (total - in_sum) / out_count
    # mean_influences: (D^T (M w_V) - s sum_V 1/b) / |V| for each set, M w_V of its trials only
    defined = np.isfinite(in_count) & np.isfinite(out_count)
    w = np.where(defined, 1 / in_count + 1 / out_count, 0.0)
    u = np.concatenate([masks[k : k + rows].astype(np.float64) @ w.T for k in range(0, len(masks), rows)]) * member.T
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_influence = ((summed(u.T, test_correct) - summed(member, test_correct)
                           * np.where(defined, 1 / out_count, 0.0).sum(1)[:, None]) / defined.sum(1)[:, None])
    return memorization, mean_influence


def split_half(masks, train_correct, test_correct, seed: int, chunk_rows: int | None = None,
               device: str | None = None) -> dict:
    """Split-half reliability (see the module docstring) of memorization and of each per-test
    statistic: {"split_seed": seed, "memorization": r, "mean_influence": r, ...}; r is None where
    undefined (too few trials, or a statistic with no spread)."""
    a, b = (estimates(masks[h], train_correct[h], test_correct[h], chunk_rows, device=device)
            for h in halves(len(masks), seed))
    return reliabilities(a, b, seed)


def reliabilities(a: dict, b: dict, seed: int) -> dict:
    """split_half's result from the two halves' estimates (uncertainty.estimates of each)."""
    return {"split_seed": seed} | {name: correlation(a[name], b[name]) for name in ("memorization", *STATISTICS)}


def stability(masks: np.ndarray, train_correct: np.ndarray, k: int, min_trials: int = 8):
    """(m, jaccard): for m = min_trials, 2 min_trials, 4 min_trials, ... below t, and t itself, the
    Jaccard similarity of the k most memorized examples by the first m trials with the k most
    memorized by all t. An undefined memorization (an example in all first m trials or none) ranks last."""
    def top(m: int) -> set:
        mem = influence.memorization(masks[:m], train_correct[:m])
        return set(np.argsort(-np.nan_to_num(mem, nan=-np.inf), kind="stable")[:k].tolist())

    t, ms = len(masks), []
    while (m := min_trials * 2 ** len(ms)) < t:
        ms.append(m)
    ms.append(t)
    final = top(t)
    return np.array(ms), np.array([consistency.jaccard(final, top(m)) for m in ms])
