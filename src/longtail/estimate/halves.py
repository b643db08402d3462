"""The split of split-half reliability: two random halves of the trials, and the correlation of an
estimate made on each (uncertainty.py). A leaf, so that train_trials' stopping rule (stopping.py)
uses the same split without depending on the rest of the estimate's code."""

import numpy as np


def halves(trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of the split: perm = np.random.default_rng(seed).permutation(trials); the first
    trials // 2 of perm, and the rest, each sorted."""
    perm = np.random.default_rng(seed).permutation(trials)
    return np.sort(perm[: trials // 2]), np.sort(perm[trials // 2 :])


def correlation(a: np.ndarray, b: np.ndarray) -> float | None:
    """Pearson correlation over the entries defined in both; None with fewer than 3 of them or no spread."""
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    if len(a) < 3 or a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])
