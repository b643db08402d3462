"""The counterfactual check of the influence matrix: does it predict what happens when the training
data changes? (The linear datamodeling score, LDS, of Park et al. 2023, dattri's metric.)

A share of the trials (estimate.holdout) is held out. The influence matrix estimated from the other
trials reads as a datamodel (Ilyas et al. 2022): trial k's target on test example i is predicted
from its mask alone,

    predicted[k, i] = sum_j influence_rest[i, j] M[k, j]        (undefined entries count 0)

up to a constant per test example, which a rank correlation ignores. For each test example, the
Spearman correlation across the held-out trials of predicted and actual outcomes; the LDS is their
mean over the test examples where it is defined (both vary across the held-out trials). Its
interval is a delete-a-group jackknife over the held-out trials (GROUPS groups), the unit that is
sampled: the test examples are the population asked about, the trials a sample of the subsets.

No split-half correlation answers this: two halves of the trials can agree on an estimate that
predicts nothing. A matrix of random noise has LDS 0 in expectation. The matrix scored is that of
(1 - holdout) of the trials, a little noisier than the published one from all of them, so the LDS
slightly understates the published matrix's.
"""

import numpy as np
from scipy import stats

GROUPS = 10  # jackknife groups of held-out trials


def holdout(trials: int, share: float, seed: int) -> np.ndarray:
    """The held-out trials, sorted: round(share * trials) of them, drawn from numpy's default_rng(seed);
    none when that is under 2 (a correlation needs two trials)."""
    count = round(share * trials)
    if count < 2:
        return np.array([], dtype=int)
    return np.sort(np.random.default_rng(seed).choice(trials, size=count, replace=False))


def predict(influence_rest: np.ndarray, held_masks: np.ndarray, undefined: np.ndarray | None = None) -> np.ndarray:
    """predicted [h, rows] of the held-out trials for a block of influence rows [rows, n_train]; its
    NaN entries (training examples in every other trial or in none) count 0. undefined: those
    columns (influence.undefined), set to 0 in place instead of a copy of the block without NaN."""
    if undefined is None:
        influence_rest = np.nan_to_num(influence_rest, nan=0.0)
    else:
        influence_rest[:, undefined] = 0
    return held_masks.astype(np.float32, copy=False) @ influence_rest.T


def spearman_columns(predicted: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Per column, the Spearman correlation across rows (ties share their mean rank); NaN where either
    column has no spread."""
    a, b = (stats.rankdata(x, axis=0) for x in (predicted, actual))
    a, b = a - a.mean(0), b - b.mean(0)
    denominator = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(0) / denominator, np.nan)


def lds(predicted: np.ndarray | None, actual: np.ndarray, groups: int = GROUPS, confidence: float = 0.95) -> dict:
    """The LDS of predicted [h, m] against actual [h, m] outcomes of h held-out trials: {"lds": mean
    Spearman over the defined test examples, "low", "high": its jackknife interval, "se", "examples":
    how many were defined, "held_out": h}. None values where fewer than 2 held-out trials or no
    defined example (predicted None: no trial was held out)."""
    h = 0 if predicted is None else len(predicted)
    none = {"lds": None, "low": None, "high": None, "se": None, "examples": 0, "held_out": h}
    if h < 2:
        return none
    actual = np.asarray(actual, dtype=np.float64)
    per = spearman_columns(predicted, actual)
    if not np.isfinite(per).any():
        return none
    value = float(np.nanmean(per))
    g = min(groups, h)
    folds = np.array_split(np.arange(h), g)
    leave_out = []
    for fold in folds:
        keep = np.setdiff1d(np.arange(h), fold)
        if len(keep) >= 2:
            rest = spearman_columns(predicted[keep], actual[keep])
            leave_out.append(np.nanmean(rest) if np.isfinite(rest).any() else np.nan)
    leave_out = np.array(leave_out)
    if len(leave_out) < 2 or not np.isfinite(leave_out).all():
        return none | {"lds": value, "examples": int(np.isfinite(per).sum())}
    se = float(np.sqrt((len(leave_out) - 1) / len(leave_out) * ((leave_out - leave_out.mean()) ** 2).sum()))
    half = stats.t.ppf(0.5 + confidence / 2, len(leave_out) - 1) * se
    return {"lds": value, "low": value - half, "high": value + half, "se": se,
            "examples": int(np.isfinite(per).sum()), "held_out": h}
