"""Did the trials fit their subsets? Below a share of trials that do, the memorization estimates
are not meaningful: train_trials prints the warning, and report.md opens with it. Its own module,
so that rewording it reruns the report, not the trials."""

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
