"""The Feldman & Zhang (2020) estimator of influence and memorization.

Notation of docs/DESIGN.md: trials k = 1..t; M[k, j] = 1 when training example j is in trial k's subset;
C[k, j] (D[k, i]): trial k's model classifies training (test) example j (i) correctly.

    influence[i, j] = mean_k{D[k, i] : M[k, j] = 1} - mean_k{D[k, i] : M[k, j] = 0}
    memorization[j] = mean_k{C[k, j] : M[k, j] = 1} - mean_k{C[k, j] : M[k, j] = 0}

In matrix form influence = (D^T M) / colsum(M) - (D^T (1-M)) / colsum(1-M), and
D^T (1-M) = rowsum(D^T) - D^T M, so one matrix product gives both terms. An entry is NaN when
example j is in every trial or in none.
"""

from collections.abc import Iterator

import numpy as np

from longtail import LongtailError


def _counts(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trials with (in_count) and without (out_count) each example; NaN where a count is zero."""
    in_count = masks.sum(0, dtype=np.float64)
    out_count = len(masks) - in_count
    with np.errstate(divide="ignore"):
        return np.where(in_count > 0, in_count, np.nan), np.where(out_count > 0, out_count, np.nan)


def _check(masks: np.ndarray, correct: np.ndarray, name: str) -> None:
    if masks.ndim != 2 or correct.ndim != 2 or len(masks) != len(correct):
        raise LongtailError(
            f"{name} must be [trials, n] with as many trials as masks [trials, n_train]; "
            f"got masks {masks.shape} and {name} {correct.shape}"
        )


def proportions(masks: np.ndarray, train_correct: np.ndarray):
    """(p_in, in_count, p_out, out_count), float64 [n_train] each: the share of the trials that
    trained on example j (in_count of them) that got it right, and the same for those that did not;
    NaN where a count is zero. memorization is p_in - p_out; p_in alone is how well trials fit j."""
    _check(masks, train_correct, "train_correct")
    if masks.shape != train_correct.shape:
        raise LongtailError(f"train_correct {train_correct.shape} must match masks {masks.shape}")
    in_count, out_count = _counts(masks)
    hits_in = (masks & train_correct).sum(0)  # integer counts: no float copy of [t, n]
    return hits_in / in_count, in_count, (train_correct.sum(0) - hits_in) / out_count, out_count


def memorization(masks: np.ndarray, train_correct: np.ndarray) -> np.ndarray:
    """memorization[j], float64 [n_train]: the influence of training example j on itself."""
    p_in, _, p_out, _ = proportions(masks, train_correct)
    return p_in - p_out


def memorization_se(masks: np.ndarray, train_correct: np.ndarray) -> np.ndarray:
    """memorization_se[j], float64 [n_train]: the binomial standard error of memorization[j], a
    difference of two proportions, p_in (right in the a_j trials that trained on j) and p_out (right
    in the b_j that did not):

        memorization_se[j] = sqrt(p_in (1 - p_in) / a_j + p_out (1 - p_out) / b_j)

    NaN where memorization is undefined. An example that every trial gets right (or wrong) has
    se 0: no trial disagrees."""
    p_in, in_count, p_out, out_count = proportions(masks, train_correct)
    return np.sqrt(p_in * (1 - p_in) / in_count + p_out * (1 - p_out) / out_count)


def default_chunk_rows(n_train: int, budget_bytes: int = 256 << 20) -> int:
    """Test rows per block so that one float32 block of influence stays within `budget_bytes`."""
    return max(1, budget_bytes // (4 * max(n_train, 1)))


def influence_blocks(
    masks: np.ndarray, test_correct: np.ndarray, chunk_rows: int | None = None
) -> Iterator[np.ndarray]:
    """influence[i, j] in blocks of test rows, float32 [rows, n_train] each, top to bottom.

    Memory stays at M as float32 plus two blocks: at CIFAR-10 size (t = 2000, n_train = 50 000)
    0.4 GB for M and 0.25 GB per block, whatever n_test is.
    """
    _check(masks, test_correct, "test_correct")
    chunk_rows = chunk_rows or default_chunk_rows(masks.shape[1])
    m = masks.astype(np.float32)  # counts up to 2^24 are exact in float32
    in_count, out_count = (c.astype(np.float32) for c in _counts(masks))
    for start in range(0, test_correct.shape[1], chunk_rows):
        d = test_correct[:, start : start + chunk_rows].astype(np.float32)
        hits_in = d.T @ m  # [rows, n_train]: trials that got test example i right and trained on j
        hits_out = d.sum(0)[:, None] - hits_in  # right, and did not train on j
        hits_out /= out_count
        hits_in /= in_count
        hits_in -= hits_out
        yield hits_in


def _matvec(masks: np.ndarray, v: np.ndarray, transpose: bool = False, rows: int = 256) -> np.ndarray:
    """M @ v (or M^T @ v) in float64, converting `rows` trials of the bool M at a time."""
    out = np.zeros(masks.shape[1] if transpose else masks.shape[0])
    for start in range(0, len(masks), rows):
        block = masks[start : start + rows].astype(np.float64)
        if transpose:
            out += block.T @ v[start : start + rows]
        else:
            out[start : start + rows] = block @ v
    return out


def mean_influences(masks: np.ndarray, test_correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(test_mean_influence [n_test], train_mean_influence [n_train]), float64, with no full matrix.

    influence[i, j] = H[i, j] w_j - s_i / b_j, with H = D^T M, s_i = sum_k D[k, i], a and b the in
    and out counts and w = 1/a + 1/b. Means over the defined columns V (or over all rows i) are then
    matrix-vector products:
        test_mean_influence[i]  = (D^T (M w_V) - s_i sum_V 1/b) / |V|
        train_mean_influence[j] = (M^T d)_j w_j - mean(s) / b_j,  d_k = mean_i D[k, i]
    """
    _check(masks, test_correct, "test_correct")
    d = test_correct.astype(np.float64)
    in_count, out_count = _counts(masks)
    defined = np.isfinite(in_count) & np.isfinite(out_count)
    w = 1 / in_count + 1 / out_count
    s = d.sum(0)
    hits_weighted = d.T @ _matvec(masks, np.where(defined, w, 0.0))  # sum_V H[i, j] w_j
    with np.errstate(invalid="ignore", divide="ignore"):
        test_mean = (hits_weighted - s * (1 / out_count[defined]).sum()) / defined.sum()
    train_mean = _matvec(masks, d.mean(1), transpose=True) * w - s.mean() / out_count
    return test_mean, train_mean


def high_influence_pairs(
    block: np.ndarray, row_offset: int, memorization: np.ndarray, *, min_influence: float, min_memorization: float
) -> np.ndarray:
    """Rows (train_index, test_index, influence, memorization) where influence >= min_influence and
    the training example's memorization >= min_memorization (Feldman & Zhang's high-influence pairs)."""
    eligible = memorization >= min_memorization
    test, train = np.nonzero((block >= min_influence) & eligible[None, :])
    return np.column_stack([train, test + row_offset, block[test, train], memorization[train]])


def strongest_influence(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each test row of an influence block: (max_j influence[i, j], that j), the training example
    with the largest influence on it; undefined entries are skipped, and a row with none gives
    (NaN, -1). ttest's `max_influence` is the first; `top_memorization` is memorization[j] of the second."""
    filled = np.where(np.isnan(block), -np.inf, block)
    top = filled.argmax(1)
    value = filled[np.arange(len(block)), top].astype(np.float64)
    undefined = np.isneginf(value)
    return np.where(undefined, np.nan, value), np.where(undefined, -1, top)


def top_memorization(top_train: np.ndarray, memorization: np.ndarray) -> np.ndarray:
    """memorization of each test example's most influential training example (NaN where none)."""
    return np.where(top_train >= 0, memorization[np.maximum(top_train, 0)], np.nan)


def extreme_pairs(blocks, k: int) -> dict[str, np.ndarray]:
    """k pairs (test_index, train_index, influence) with the most negative, the nearest-zero and the
    most positive defined influence, one pair per test example so that k different test examples show
    (the seed paper's Figure 1). Reads row blocks of the influence matrix in one pass."""
    keys = {"negative": lambda v: v, "zero": np.abs, "positive": lambda v: -v}
    best = {name: np.empty((0, 3)) for name in keys}
    row = 0
    for block in blocks:
        block = np.asarray(block, dtype=np.float64)
        rows = np.arange(len(block))
        for name, key in keys.items():
            score = np.nan_to_num(key(block), nan=np.inf)
            j = score.argmin(1)  # each test example's most extreme pair
            defined = np.isfinite(score[rows, j])
            pairs = np.column_stack([rows + row, j, block[rows, j]])[defined]
            pool = np.concatenate([best[name], pairs])
            best[name] = pool[np.lexsort((pool[:, 0], key(pool[:, 2])))[:k]]
        row += len(block)
    return best
