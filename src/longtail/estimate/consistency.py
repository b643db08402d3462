"""Feldman & Zhang's (2020) consistency check: do two architectures, each with its own trials on the
same data, find the same long tail?

With memorization estimates mem_a, mem_b [n_train] and high-influence pairs P_a, P_b (pairs
(train_index j, test_index i) with influence[i, j] >= estimate.pair_influence and memorization[j] >=
estimate.pair_memorization, as stages/estimate.py writes them):

    H_a                  = {j : mem_a[j] >= threshold}                  (high memorization)
    jaccard(A, B)        = |A & B| / |A | B|
    jaccard_memorization = jaccard(H_a, H_b)
    jaccard_pairs        = jaccard(P_a, P_b)
    D_mem                = mean_{j in H_a | H_b} |mem_a[j] - mem_b[j]|

Undefined stays undefined, as elsewhere in the library: a NaN memorization (an example in every
trial or in none) is never high, and is left out of D_mem's mean; the Jaccard similarity of two
empty sets, and D_mem over an empty union, are NaN (null in the metrics JSON), not 1 and 0: two
architectures that both find nothing give no evidence that they agree.
"""

import numpy as np

from longtail import LongtailError


def high_memorization(memorization: np.ndarray, threshold: float) -> np.ndarray:
    """H, bool [n_train]: memorization[j] >= threshold; a NaN (undefined) estimate never counts."""
    return np.asarray(memorization, dtype=np.float64) >= threshold  # NaN >= threshold is False


def jaccard(a, b) -> float:
    """|A & B| / |A | B| of two sets, given as bool masks of one length or as sets of hashable items
    (e.g. (train_index, test_index) tuples); NaN when both are empty."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype != bool or b.dtype != bool or a.shape != b.shape:
            raise LongtailError(f"jaccard takes two bool masks of one shape or two sets; got {a.dtype} {a.shape} "
                                f"and {b.dtype} {b.shape}")
        both, either = int((a & b).sum()), int((a | b).sum())
    else:
        a, b = set(a), set(b)
        both, either = len(a & b), len(a | b)
    return both / either if either else float("nan")


def d_mem(mem_a: np.ndarray, mem_b: np.ndarray, threshold: float) -> float:
    """D_mem = mean over the union of the two high-memorization sets of |mem_a[j] - mem_b[j]|,
    over the examples of the union whose two estimates are both defined; NaN when there are none."""
    mem_a, mem_b = _same_length(mem_a, mem_b)
    union = high_memorization(mem_a, threshold) | high_memorization(mem_b, threshold)
    difference = np.abs(mem_a - mem_b)[union]
    difference = difference[~np.isnan(difference)]
    return float(difference.mean()) if len(difference) else float("nan")


def pair_set(pairs: np.ndarray) -> set[tuple[int, int]]:
    """High-influence pairs, integer [p, 2] rows (train_index, test_index), as a set of tuples."""
    pairs = np.asarray(pairs)
    if pairs.size == 0:
        return set()
    if pairs.ndim != 2 or pairs.shape[1] != 2 or not np.issubdtype(pairs.dtype, np.integer):
        raise LongtailError(f"pairs must be integer rows (train_index, test_index), shape [p, 2]; got {pairs.dtype} "
                            f"{pairs.shape}")
    return set(map(tuple, pairs.tolist()))


def compare(mem_a: np.ndarray, mem_b: np.ndarray, pairs_a: np.ndarray, pairs_b: np.ndarray, *,
                min_memorization: float) -> dict:
    """Feldman & Zhang's consistency of two sets of estimates (module docstring): the sizes of the
    two high-memorization sets and of the two high-influence pair sets, how many each pair of sets
    shares (`_both`), their Jaccard similarities, and D_mem."""
    mem_a, mem_b = _same_length(mem_a, mem_b)
    high_a, high_b = high_memorization(mem_a, min_memorization), high_memorization(mem_b, min_memorization)
    p_a, p_b = pair_set(pairs_a), pair_set(pairs_b)
    return {
        "high_memorization_a": int(high_a.sum()),
        "high_memorization_b": int(high_b.sum()),
        "high_memorization_both": int((high_a & high_b).sum()),
        "jaccard_memorization": jaccard(high_a, high_b),
        "d_mem": d_mem(mem_a, mem_b, min_memorization),
        "high_influence_pairs_a": len(p_a),
        "high_influence_pairs_b": len(p_b),
        "high_influence_pairs_both": len(p_a & p_b),
        "jaccard_pairs": jaccard(p_a, p_b),
    }


def _same_length(mem_a, mem_b) -> tuple[np.ndarray, np.ndarray]:
    mem_a, mem_b = np.asarray(mem_a, dtype=np.float64), np.asarray(mem_b, dtype=np.float64)
    if mem_a.ndim != 1 or mem_a.shape != mem_b.shape:
        raise LongtailError(f"the two memorization estimates must be [n_train] over the same training set; got "
                            f"{mem_a.shape} and {mem_b.shape}")
    return mem_a, mem_b
