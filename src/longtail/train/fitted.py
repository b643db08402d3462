"""Did the trials fit their subsets? Below a share of trials that do, the memorization estimates
are not meaningful: the fit stage prints the warning, and report.md opens with it. Its own module,
so that rewording it reruns the fit stage and the report, not the trials."""

import numpy as np

from longtail import LongtailError

# Below this share of trials that fit their own subsets, memorization estimates are not meaningful:
# Feldman & Zhang's memorization is the effect of training on an example in models that fit their
# training data; a trial that never fits a mislabeled example cannot show that it memorized it.
FIT_WARNING = 0.9


def fit_warning(trials: dict, fit_threshold: float) -> str | None:
    """What train_trials prints and the report says first when too few trials fit (None when enough do)."""
    if trials["fit_fraction"] >= FIT_WARNING:
        return None
    return (f"only {trials['fit_fraction']:.0%} of the trials fit their own subsets (accuracy ≥ trials.fit_threshold "
            f"= {fit_threshold}; mean {trials['subset_accuracy']:.4f}), below {FIT_WARNING:.0%}, and only models that "
            "fit their training data show what they memorized. Train longer or harder (trials.epochs, trials.lr; "
            "trials.weight_decay: 0), and check the recipe on planted truth first: "
            "`dvc exp run -S data.flip_labels=0.05`")


def until_warning(trials: dict) -> str | None:
    """What report.md says first when trials.until was not met within the budget (None otherwise)."""
    stop = trials.get("until") or {}
    if stop.get("until") is None or stop.get("met"):
        return None
    value = "undefined" if stop["value"] is None else f"{stop['value']:.3g}"
    return (f"the budget of trials.count = {stop['count']} trials ran out before trials.until ({stop['until']}) was "
            f"met ({value} at the end): the estimates have not settled as asked; raise trials.count")


def summary(masks: np.ndarray, train_correct: np.ndarray, test_correct: np.ndarray,
            fit_threshold: float | None = None) -> dict:
    """metrics/trials.json: mean accuracy on each trial's own subset, on its held-out training
    examples, and on the test set; with a fit_threshold, the share of trials that fit their subset."""
    if train_correct.shape != masks.shape or test_correct.shape[0] != len(masks):
        raise LongtailError(f"masks {masks.shape}, train_correct {train_correct.shape} and test_correct "
                            f"{test_correct.shape} are not of the same trials: rerun train_trials (`dvc repro`)")
    with np.errstate(invalid="ignore"):
        own = (train_correct & masks).sum(1) / masks.sum(1)
        held_out = (train_correct & ~masks).sum(1) / (~masks).sum(1)
    return {
        "trials": len(masks),
        "subset_accuracy": float(np.nanmean(own)),
        "held_out_accuracy": float(np.nanmean(held_out)),
        "test_accuracy": float(test_correct.mean()),
        "min_subset_accuracy": float(np.nanmin(own)),
        **({} if fit_threshold is None else {"fit_fraction": float((own >= fit_threshold).mean())}),
        "mean_subset_size": float(masks.sum(1).mean()),
    }
