"""Does the influence on CIEs differ from the influence on examples where both models agree?"""

import warnings

import numpy as np
from scipy import stats

NULL = {"t": None, "p": None, "welch_t": None, "welch_p": None}


def two_sample_tests(group: np.ndarray, comparison: np.ndarray) -> dict:
    """Student's t-test (equal variances, as Dam et al. 2023) and Welch's t-test of `group` against
    `comparison`. NaN values are left out. With fewer than two values on a side the statistics are
    None and a warning says why."""
    group, comparison = group[np.isfinite(group)], comparison[np.isfinite(comparison)]
    sizes = {"n": len(group), "comparison_n": len(comparison),
             "mean": _mean(group), "comparison_mean": _mean(comparison)}
    if len(group) < 2 or len(comparison) < 2:
        warnings.warn(f"t-test needs two or more values per group; got {len(group)} and {len(comparison)}")
        return NULL | sizes
    student = stats.ttest_ind(group, comparison, equal_var=True)
    welch = stats.ttest_ind(group, comparison, equal_var=False)
    return {"t": float(student.statistic), "p": float(student.pvalue),
            "welch_t": float(welch.statistic), "welch_p": float(welch.pvalue)} | sizes


def _mean(values: np.ndarray) -> float | None:
    return float(values.mean()) if len(values) else None
