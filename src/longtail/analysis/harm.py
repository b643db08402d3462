"""Does memorization predict compression's harm beyond cheap signals? Dam et al. (2023) explain the
compression impacted exemplars by memorization; Iofinova et al. (2023) and Tran et al. (2022)
predict which examples compression harms from the dense model alone. This measures both claims on
one footing, for each harm target (bool per test example: the CIEs, the most shifted):

    AUC alone    each signal's AUC, oriented so that 0.5 says nothing and above it the signal points
                 the expected way (a low margin, a high loss), with DeLong's 95% interval
    cheap        a logistic regression on the cheap signals (standardized, classes balanced), its
                 AUC from the out-of-fold scores of a stratified k-fold cross-validation
    both         the same model with the influence statistics added, on the same folds
    added value  delta = AUC(both) - AUC(cheap), with DeLong's paired interval (the two models'
                 out-of-fold scores on the same examples; the fitted models taken as fixed)

The test of the added value answers: do the influence statistics predict harm beyond the cheap
signals better than influence-free statistics of the same examples would? Its null is the
estimate's influence-free draws (estimate.null: each statistic recomputed with the trials' test
correctness permuted against the masks, no influence left, each example's difficulty and noise
kept): draw r stands in for the statistics, on the same folds, giving delta_r; p = (1 + #{delta_r
>= delta}) / (1 + R), one-sided. It is exact when the statistics carry no influence (they are then
exchangeable with their draws), and its smallest p is 1 / (1 + R). The raw delta is not a test:
influence statistics grow with difficulty through the estimator's noise alone, and a flexible
model finds that noise useful wherever difficulty is.
"""

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from longtail import LongtailError

# Each cheap signal's orientation: +1 where a larger value should mean more harm.
CHEAP = {"margin": -1, "loss": 1, "agreement": -1, "el2n": 1, "forgetting": 1, "trial_accuracy": -1}


def cheap_signals(reference: dict[str, np.ndarray], epochs: dict[str, np.ndarray], votes: np.ndarray,
                  trial_accuracy: np.ndarray, early: float) -> dict[str, np.ndarray]:
    """The cheap signals (CHEAP's order), each float64 [n]: the reference's margin and loss
    (train.reference.signals), the reference population's agreement (the share of its models that
    vote its modal label; votes [n, C] from data/pie/shift.npz), early EL2N and forgetting events
    over its members' epochs (epochs: train.reference.Epochs' arrays), and the trials' accuracy."""
    found = {"margin": reference["margin"], "loss": reference["loss"], "agreement": votes.max(1),
             "el2n": early_el2n(epochs["el2n"], early), "forgetting": forgetting_events(epochs["correct"]),
             "trial_accuracy": trial_accuracy}
    return {k: np.asarray(found[k], np.float64) for k in CHEAP}


def forgetting_events(correct: np.ndarray) -> np.ndarray:
    """float64 [n]: each test example's forgetting events (Toneva et al. 2019: an epoch that gets it
    wrong after one that got it right), averaged over the members; correct bool [members, epochs, n].
    An example no epoch of a member got right counts `epochs` for that member, more than any that
    was learned: Toneva et al. rank the never learned as the most forgettable. Measured on the test
    examples, whose harm is the target, not on the training examples as Toneva et al. do."""
    events = (correct[:, :-1] & ~correct[:, 1:]).sum(1).astype(np.float64)
    return np.where(correct.any(1), events, correct.shape[1]).mean(0)


def early_el2n(el2n: np.ndarray, early: float) -> np.ndarray:
    """float64 [n]: EL2N (Paul et al. 2021) after epoch ceil(early * epochs), averaged over the
    members (their independent initialisations, as Paul et al. average); el2n [members, epochs, n]."""
    epoch = max(1, int(np.ceil(early * el2n.shape[1])))
    return el2n[:, epoch - 1].astype(np.float64).mean(0)


def _components(score: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's structural components (V10 over the positives, V01 over the negatives) from midranks:
    V10_i is the share of negatives that positive i outscores (ties half), V01_j the share of
    positives that outscore negative j. Their means are the AUC."""
    pos, neg = score[target], score[~target]
    m, n = len(pos), len(neg)
    both = stats.rankdata(np.concatenate([pos, neg]))
    v10 = (both[:m] - stats.rankdata(pos)) / n
    v01 = 1 - (both[m:] - stats.rankdata(neg)) / m
    return v10, v01


def delong(scores: list[np.ndarray], target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(AUCs [k], their covariance [k, k]) of k score arrays on the same examples (DeLong et al. 1988)."""
    parts = [_components(s, target) for s in scores]
    v10, v01 = np.array([p[0] for p in parts]), np.array([p[1] for p in parts])
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return v10.mean(1), cov


def half_width(scores: list[np.ndarray], target: np.ndarray, weights, confidence: float = 0.95) -> float:
    """The half-width of DeLong's `confidence` interval of the contrast weights . AUCs: its variance
    w'S10w / m + w'S01w / n, on Student's t with the Welch-Satterthwaite df of its two parts (m - 1
    and n - 1), not the normal's: with a few positives the positives' part is estimated from a few
    values (the normal's interval covered 65 to 73% at 2 positives, 75 to 85% at 5;
    benchmarks/coverage.py)."""
    parts = [_components(s, target) for s in scores]
    w = np.asarray(weights, dtype=np.float64)
    v10, v01 = w @ np.array([p[0] for p in parts]), w @ np.array([p[1] for p in parts])
    a, b = v10.var(ddof=1) / len(v10), v01.var(ddof=1) / len(v01)
    if a + b <= 0:
        return 0.0
    df = (a + b) ** 2 / (a * a / (len(v10) - 1) + b * b / (len(v01) - 1))
    return float(stats.t.ppf((1 + confidence) / 2, df) * np.sqrt(a + b))


def _hanley_mcneil(value: float, target: np.ndarray, confidence: float) -> float:
    """The half-width of Hanley & McNeil's (1982) interval, a floor under DeLong's: its variance
    follows from the AUC itself, so it does not vanish where a few positives all outscore the
    negatives (DeLong's positives' part is then 0); the AUC is moved half a pair off 0 and 1."""
    m, n = int(target.sum()), int((~target).sum())
    a = (value * m * n + 0.5) / (m * n + 1)
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (m - 1) * (q1 - a * a) + (n - 1) * (q2 - a * a)) / (m * n)
    return float(stats.t.ppf((1 + confidence) / 2, max(m - 1, 1)) * np.sqrt(max(variance, 0.0)))


def auc(score: np.ndarray, target: np.ndarray, confidence: float = 0.95) -> dict:
    """{auc, low, high}: the AUC of `score` for the bool `target`, with DeLong's interval (half_width,
    clipped to [0, 1]); None without two positives and two negatives."""
    if target.sum() < 2 or (~target).sum() < 2:
        return {"auc": None, "low": None, "high": None}
    value = float(delong([score], target)[0][0])
    half = max(half_width([score], target, [1.0], confidence), _hanley_mcneil(value, target, confidence))
    return {"auc": value, "low": max(0.0, value - half), "high": min(1.0, value + half)}


def out_of_fold(features: np.ndarray, target: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Each example's logistic-regression score from the model fitted on the other folds (stratified,
    shuffled by `seed`); features [n, k], NaN filled with its column's median."""
    features = np.where(np.isnan(features), np.nanmedian(features, axis=0), features)
    model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, features, target, cv=split, method="decision_function")


def added_value(cheap: np.ndarray, influence: np.ndarray, null: np.ndarray, target: np.ndarray, *, folds: int,
                seed: int, confidence: float = 0.95) -> dict:
    """The cheap model's and the cheap + influence model's cross-validated AUCs with DeLong's
    intervals (`cheap_low`, ..., `both_high`), their difference with DeLong's paired interval, and
    the test of the difference against the influence-free draws: cheap [n, k], influence [n, j],
    null [R, n, j] (draw r of each statistic), target bool [n].
    folds: at most this many, and no more than the rarer class has examples."""
    folds = int(min(folds, target.sum(), (~target).sum()))
    if folds < 2:
        return {"folds": folds, "cheap": None, "both": None, "delta": None, "p": None}
    base = out_of_fold(cheap, target, folds, seed)
    both = out_of_fold(np.hstack([cheap, influence]), target, folds, seed)
    (a_cheap, a_both), _ = delong([base, both], target)
    delta = a_both - a_cheap
    half = half_width([base, both], target, [-1.0, 1.0], confidence)
    bounds = {f"{name}_{side}": float(np.clip(value + sign * max(half_width([base, both], target, weights, confidence),
                                                                 _hanley_mcneil(value, target, confidence)), 0, 1))
              for name, value, weights in (("cheap", a_cheap, [1.0, 0.0]), ("both", a_both, [0.0, 1.0]))
              for side, sign in (("low", -1), ("high", 1))}
    drawn = np.array([delong([base, out_of_fold(np.hstack([cheap, draw]), target, folds, seed)], target)[0] @ [-1, 1]
                      for draw in null])
    return {"folds": folds, "cheap": float(a_cheap), "both": float(a_both), **bounds, "delta": float(delta),
            "delta_low": float(delta - half), "delta_high": float(delta + half), "draws": len(drawn),
            "null_delta_mean": float(drawn.mean()), "null_delta_high": float(np.quantile(drawn, 0.95)),
            "p": float((1 + np.sum(drawn >= delta)) / (1 + len(drawn)))}


def predicts(cheap: dict[str, np.ndarray], influence: dict[str, np.ndarray], null: dict[str, np.ndarray],
             targets: dict[str, np.ndarray], *, folds: int, seed: int, columns: np.ndarray | None = None,
             sampled: np.ndarray | None = None) -> dict:
    """metrics/harm.json: per target, its size, each signal's AUC alone (cheap ones oriented by CHEAP,
    influence ones as they are: more influence, more harm) and the added value of the influence
    statistics (`added_value`). cheap: name -> [n]; influence: statistic -> [n]; null: statistic ->
    its influence-free joint draws [R, m] of the test examples `columns` (all n where None), of which
    `sampled` (bool [m]) are a uniform sample of the test set (null.sample_columns); targets: name ->
    bool [n], every case among the columns. The added value is measured where the draws are: on
    every case and the sampled controls, a uniform sample of them (`examples` of them; all n where
    nothing was left out), so that the influence statistics and their draws stand on the same examples."""
    n = len(next(iter(cheap.values())))
    if columns is None:
        columns, sampled = np.arange(n), np.ones(n, bool)
    arrays = {**cheap, **influence, **{f"{k} (harm target)": v for k, v in targets.items()}}
    if mismatched := {k: len(v) for k, v in arrays.items() if len(v) != n} | {
            f"{k} (influence-free draws)": v.shape[1] for k, v in null.items() if v.shape[1] != len(columns)}:
        raise LongtailError(f"the signals and targets must cover the same test examples; these differ in length "
                            f"from the reference's {n} (the draws from their {len(columns)} columns): {mismatched}; "
                            "rerun the pipeline (`dvc repro`)")
    cheap_matrix = np.stack([cheap[k] for k in cheap], 1)
    influence_matrix = np.stack([influence[k] for k in influence], 1)
    null_matrix = np.stack([null[k] for k in influence], 2)  # [R, m, j]
    found = {}
    for name, target in targets.items():
        target = np.asarray(target, bool)
        if missing := int(target.sum() - target[columns].sum()):
            raise LongtailError(f"{missing} of the {int(target.sum())} examples of harm target {name} have no "
                                "influence-free draws: rerun the pipeline (`dvc repro`)")
        alone = {k: auc(CHEAP[k] * np.nan_to_num(v, nan=np.nanmedian(v)), target) for k, v in cheap.items()}
        alone |= {k: auc(np.nan_to_num(v, nan=np.nanmedian(v)), target) for k, v in influence.items()}
        kept = target[columns] | sampled  # every case, the sampled controls
        rows = columns[kept]
        found[name] = {"n": int(target.sum()), "of": len(target), "alone": alone,
                       "added": added_value(cheap_matrix[rows], influence_matrix[rows], null_matrix[:, kept],
                                            target[rows], folds=folds, seed=seed) | {"examples": len(rows)}}
    return {"cheap": list(cheap), "influence": list(influence), "folds": folds} | found
