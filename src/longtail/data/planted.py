"""Planted truth: training labels flipped on purpose, and how well memorization finds them.

A mislabeled example can be fit only by memorizing it, so trials that fit their subsets give it
memorization near 1, and the estimator must rank the flipped examples above the clean ones. With
`data.flip_labels` set, that is a check of the whole recipe with a known answer.
"""

import numpy as np
from scipy import stats

from longtail import LongtailError, seeds
from longtail.checks import check_range


def flip_labels(y: np.ndarray, share: float, num_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(labels with round(share * n) of them moved to another class, flipped bool [n]). The
    examples and their new classes (uniform over the other classes) are drawn from `seed`."""
    check_range("data.flip_labels", share, 0, 0.5)
    if num_classes < 2:
        raise LongtailError("flipping labels needs at least two classes")
    rng = np.random.default_rng([seed, seeds.FLIPS])
    chosen = rng.choice(len(y), size=round(share * len(y)), replace=False)
    noisy = y.copy()
    noisy[chosen] = (y[chosen] + rng.integers(1, num_classes, size=len(chosen))) % num_classes
    flipped = np.zeros(len(y), bool)
    flipped[chosen] = True
    return noisy, flipped


def found(memorization: np.ndarray, flipped: np.ndarray, train_fit: np.ndarray | None = None) -> dict:
    """How memorization ranks the flipped examples above the rest (examples whose memorization is
    undefined are left out):
    auc: the probability that a random flipped example outranks a random clean one (ties count a
    half; the Mann-Whitney U over the product of the group sizes); precision_at_k: the share of
    flipped examples among the k most memorized, k the number flipped; the mean memorization of
    each group; and, given train_fit (each example's accuracy in the trials that trained on it),
    the mean fit of the flipped examples: near 1 where the trials memorize them."""
    if memorization.shape != flipped.shape:
        raise LongtailError(f"memorization {memorization.shape} and flipped {flipped.shape} must match")
    defined = np.isfinite(memorization)
    mem, truth = memorization[defined], flipped[defined]
    k = int(truth.sum())
    if k == 0 or k == len(truth):
        return {"flipped": int(flipped.sum()), "auc": None, "precision_at_k": None}
    u = stats.mannwhitneyu(mem[truth], mem[~truth], alternative="two-sided").statistic
    top = np.argsort(-mem, kind="stable")[:k]
    out = {
        "flipped": int(flipped.sum()),
        "auc": float(u / (k * (len(truth) - k))),
        "precision_at_k": float(truth[top].mean()),
        "memorization_flipped": float(mem[truth].mean()),
        "memorization_clean": float(mem[~truth].mean()),
    }
    if train_fit is not None:
        out["fit_flipped"] = float(np.nanmean(train_fit[flipped]))
    return out
