"""The Feldman & Zhang (2020) estimator of influence and memorization.

Notation of docs/DESIGN.md: trials k = 1..t; M[k, j] = 1 when training example j is in trial k's subset;
C[k, j] (D[k, i]): trial k's model classifies training (test) example j (i) correctly, or, with
estimate.target, the probability or the margin it gives its label (a soft target: the same masked
difference of means, without the coin flip of the argmax). Everything below takes either.

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


def _moments(masks: np.ndarray, values: np.ndarray, rows: int = 32):
    """(in_sum, in_squares, sum, squares), float64 [n]: the sums over trials of values[k, j] and of its
    square, over the trials that kept j and over all. 0/1 values are counted as integers (a square is
    the value); others are converted `rows` trials at a time (blocks small enough that the allocator
    reuses their memory instead of touching fresh pages each time)."""
    if values.dtype == bool:
        in_sum, total = (masks & values).sum(0).astype(np.float64), values.sum(0).astype(np.float64)
        return in_sum, in_sum, total, total
    n = masks.shape[1]
    out = [np.zeros(n) for _ in range(4)]
    for start in range(0, len(masks), rows):
        m = masks[start : start + rows]
        v = values[start : start + rows].astype(np.float64)
        squares = v * v
        out[0] += np.where(m, v, 0).sum(0)
        out[1] += np.where(m, squares, 0).sum(0)
        out[2] += v.sum(0)
        out[3] += squares.sum(0)
    return out


def proportions(masks: np.ndarray, train_correct: np.ndarray):
    """(p_in, in_count, p_out, out_count), float64 [n_train] each: the mean target of example j over the
    trials that trained on it (in_count of them; for 0/1 correctness, the share that got it right), and
    over those that did not; NaN where a count is zero. memorization is p_in - p_out; p_in alone is how
    well trials fit j."""
    return moments(masks, train_correct)[:4]


def moments(masks, train_correct):
    """proportions' four values, then the target's variance within each of the two groups of trials
    (var_in, var_out, 1/count normalised): every per-training-example estimate from one pass."""
    _check(masks, train_correct, "train_correct")
    if masks.shape != train_correct.shape:
        raise LongtailError(f"train_correct {train_correct.shape} must match masks {masks.shape}")
    in_count, out_count = _counts(masks)
    in_sum, in_squares, total, squares = _moments(masks, train_correct)
    p_in, p_out = in_sum / in_count, (total - in_sum) / out_count
    var_in = np.maximum(in_squares / in_count - p_in**2, 0)
    var_out = np.maximum((squares - in_squares) / out_count - p_out**2, 0)
    return p_in, in_count, p_out, out_count, var_in, var_out


def memorization(masks: np.ndarray, train_correct: np.ndarray) -> np.ndarray:
    """memorization[j], float64 [n_train]: the influence of training example j on itself."""
    p_in, _, p_out, _ = proportions(masks, train_correct)
    return p_in - p_out


def memorization_se(masks: np.ndarray, train_correct: np.ndarray) -> np.ndarray:
    """memorization_se[j], float64 [n_train]: the standard error of memorization[j], a difference of
    two means, over the a_j trials that trained on j and the b_j that did not:

        memorization_se[j] = sqrt(var_in / a_j + var_out / b_j)

    var the target's variance within each group (1/a_j normalised). For 0/1 correctness it is the
    binomial one, var = p (1 - p). NaN where memorization is undefined. An example that every trial
    gets right (or wrong) has se 0: no trial disagrees."""
    _, in_count, _, out_count, var_in, var_out = moments(masks, train_correct)
    return np.sqrt(var_in / in_count + var_out / out_count)


def data_oob(masks: np.ndarray, train_correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, se), float64 [n_train]: Data-OOB (Kwon & Zou 2023), each training example's mean target
    (for 0/1 correctness, its accuracy) in the trials that left it out: p_out, with its standard error
    sqrt(var_out / b_j). Low values flag examples the other data contradicts (mislabeled ones). Kwon &
    Zou's weak learners are bootstrap-trained; here they are the trials, trained on random subsets."""
    _, _, p_out, out_count, _, var_out = moments(masks, train_correct)
    return p_out, np.sqrt(var_out / out_count)


def banzhaf(masks: np.ndarray, test_correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(value, se), float64 [n_train]: the maximum-sample-reuse (MSR) estimate, from the trials, of each
    training example's semivalue for the utility u_k = mean_i D[k, i], trial k's test accuracy (or
    mean target):

        banzhaf[j] = mean_k{u_k : M[k, j] = 1} - mean_k{u_k : M[k, j] = 0}

    with the standard error of a difference of two means, as memorization_se. With Bernoulli masks it
    is the weighted Banzhaf value with p = trials.subset_ratio (Li & Yu 2023); at subset_ratio 0.5 it
    is the Banzhaf value itself, Wang & Jia's (2023) and pyDVL's MSR Banzhaf, which samples p = 0.5.
    It is the mean over test examples of influence[:, j] (train_mean_influence), computed from the
    utilities alone."""
    _check(masks, test_correct, "test_correct")
    utility = np.zeros(len(test_correct))
    for start in range(0, len(test_correct), 256):
        utility[start : start + 256] = test_correct[start : start + 256].astype(np.float64).mean(1)
    p_in, in_count, p_out, out_count, var_in, var_out = moments(
        masks, np.broadcast_to(utility[:, None], masks.shape))
    return p_in - p_out, np.sqrt(var_in / in_count + var_out / out_count)


def default_chunk_rows(n_train: int, budget_bytes: int = 256 << 20) -> int:
    """Test rows per block so that one float32 block of influence stays within `budget_bytes`."""
    return max(1, budget_bytes // (4 * max(n_train, 1)))


def influence_blocks(
    masks: np.ndarray, test_correct: np.ndarray, chunk_rows: int | None = None, *, reuse: bool = False,
    device: str | None = None,
) -> Iterator[np.ndarray]:
    """influence[i, j] in blocks of test rows, float32 [rows, n_train] each, top to bottom.

    Memory stays at M as float32 plus two blocks: at CIFAR-10 size (t = 2000, n_train = 50 000)
    0.4 GB for M and 0.25 GB per block, whatever n_test is. reuse: every block is computed in the
    same two buffers, so each one yielded is overwritten by the next (for a caller that reduces a
    block before it asks for the next). Fresh memory is what a block costs most on some machines:
    on the 2-core VM, first touching 256 MB takes 0.6 s, four times the block's arithmetic.
    device: where the products run (on_device); None, numpy on the CPU.
    """
    _check(masks, test_correct, "test_correct")
    chunk_rows = chunk_rows or default_chunk_rows(masks.shape[1])
    if device is not None:
        for block in _device_blocks(masks, test_correct, chunk_rows, device):
            yield block.cpu().numpy()
        return
    m = masks.astype(np.float32)  # counts up to 2^24 are exact in float32
    counts = _float32_counts(masks)
    buffers = _Buffers(("hits", "scratch"), chunk_rows, masks.shape[1], reuse)
    for start in range(0, test_correct.shape[1], chunk_rows):
        d = test_correct[:, start : start + chunk_rows].astype(np.float32)
        hits, scratch = buffers.take(d.shape[1])
        yield _influence(np.matmul(d.T, m, out=hits), d.sum(0), *counts, scratch)


def influence_pass(masks: np.ndarray, test_correct: np.ndarray, halves: tuple[np.ndarray, np.ndarray],
                   held: np.ndarray, chunk_rows: int | None = None, device: str | None = None,
                   spread=None) -> Iterator[dict[str, np.ndarray]]:
    """One pass over blocks of test rows, as influence_blocks, yielding for each block the influence
    [rows, n_train] over several sets of trials, from the sums of two products of half the trials:

        "all"   every trial: the published matrix (influence_blocks' block, bit for bit for 0/1 targets)
        "a","b" the two halves of `halves` (trial indices), for split-half reliability
        "rest"  the trials not in `held` (indices; omitted when empty), for the counterfactual check

    Each is a masked difference of sums over its trials, and the sums over all trials are those over
    the two halves added, so the halves cost no pass of their own and the rest only the product of
    the held-out trials. spread: halves.grouped's (members, chosen) of the reliability spread, its
    groups within `halves`: for 0/1 targets on the CPU the halves' sums are then those of the groups
    (GroupedHalves; the same integers), and each block also gives "spread", the spread's halves'
    (max_influence, top_train) [2 x splits, rows] (GroupedHalves.block), for a combination of the
    groups' products each. The blocks live in buffers reused from block to block (influence_blocks'
    reuse): each dict is overwritten by the next. Memory: M as float32, (1 + holdout) of it, plus five
    blocks (four with none held out). device: where the products run (on_device; the blocks come
    back to the CPU, the stage writes them); None, numpy on the CPU."""
    _check(masks, test_correct, "test_correct")
    chunk_rows = chunk_rows or default_chunk_rows(masks.shape[1])
    rest = np.setdiff1d(np.arange(len(masks)), held)
    groups = {"a": halves[0], "b": halves[1], **({"held": held} if len(held) else {})}
    if device is not None:
        yield from _device_pass(masks, test_correct, groups, rest, chunk_rows, device)
        return
    grouped = None
    if spread is not None and test_correct.dtype == bool:
        members, chosen = spread
        grouped = GroupedHalves(masks, members, chosen, extra=(np.isin([m[0] for m in members], halves[0]),))
    products = {name: trials for name, trials in groups.items() if grouped is None or name == "held"}
    m = {name: masks[trials].astype(np.float32) for name, trials in products.items()}
    counts = {"all": _float32_counts(masks), "a": _float32_counts(masks[halves[0]]),
              "b": _float32_counts(masks[halves[1]]), "rest": _float32_counts(masks[rest])}
    buffers = _Buffers((*groups, "all", "scratch"), chunk_rows, masks.shape[1], reuse=True)
    for start in range(0, test_correct.shape[1], chunk_rows):
        columns = test_correct[:, start : start + chunk_rows]
        views = dict(zip(buffers.names, buffers.take(columns.shape[1])))
        sums = {name: columns[trials].astype(np.float32).sum(0) for name, trials in groups.items()}
        for name in products:
            np.matmul(columns[groups[name]].astype(np.float32).T, m[name], out=views[name])
        out = {}
        if grouped is None:
            full = np.add(views["a"], views["b"], out=views["all"])
        else:  # the halves' sums from the groups', and the spread's halves from the same products
            found, width = [], grouped.width()
            for lo in range(0, columns.shape[1], width):
                found.append(grouped.block(columns[:, lo : lo + width]))
                views["a"][lo : lo + width], views["all"][lo : lo + width] = grouped.hits[-2], grouped.hits[-1]
            full = views["all"]
            np.subtract(full, views["a"], out=views["b"])
            out["spread"] = tuple(np.concatenate(part, axis=1) for part in zip(*found))
        full_sums, scratch = sums["a"] + sums["b"], views["scratch"]
        if "held" in groups:
            rest_hits = np.subtract(full, views["held"], out=views["held"])
            out["rest"] = _influence(rest_hits, full_sums - sums["held"], *counts["rest"], scratch)
        out["all"] = _influence(full, full_sums, *counts["all"], scratch)
        out["a"] = _influence(views["a"], sums["a"], *counts["a"], scratch)
        out["b"] = _influence(views["b"], sums["b"], *counts["b"], scratch)
        yield out


class _Buffers:
    """Blocks [rows, n] float32 by name: the same memory each time with reuse, fresh ones without."""

    def __init__(self, names, rows: int, n: int, reuse: bool):
        self.names, self.shape, self.reuse = tuple(names), (rows, n), reuse
        self.kept = [np.empty(self.shape, np.float32) for _ in self.names] if reuse else None

    def take(self, rows: int) -> list[np.ndarray]:
        if not self.reuse:
            return [np.empty((rows, self.shape[1]), np.float32) for _ in self.names]
        return [buffer[:rows] for buffer in self.kept]


def _float32_counts(masks):
    return tuple(c.astype(np.float32) for c in _counts(masks))


def _influence(hits: np.ndarray, sums: np.ndarray, in_count: np.ndarray, out_count: np.ndarray,
               scratch: np.ndarray) -> np.ndarray:
    """In place: the masked sums hits[i, j] = sum_k D[k, i] M[k, j] and sums[i] = sum_k D[k, i] over a
    set of trials -> influence over them, hits / a - (sums - hits) / b (scratch: a block to work in).
    In this order an example with the same target in every trial gets exactly 0 (a / a - b / b)."""
    out = np.subtract(sums[:, None], hits, out=scratch)  # the target summed over the trials without j
    out /= out_count
    hits /= in_count
    hits -= out
    return hits


# --- the same products through torch, on a device (estimate's `device`: a GPU) ------------------------
#
# On a GPU the masked products of a CIFAR-10-sized pass are milliseconds. The sums are those of the
# CPU: 0/1 targets are counted exactly in float32 below 2^24 whatever the order of summation, and
# the influence arithmetic is the same IEEE operations in the same order (_influence), so for 0/1
# targets every block is the CPU's bit for bit; soft targets round their sums in another order.


def on_device(device) -> str | None:
    """The device the estimate's products run on: None (numpy) for the CPU, the device's name else."""
    return None if device is None or str(device) == "cpu" else str(device)


def _torch_counts(masks, device):
    import torch

    return tuple(torch.from_numpy(c).to(device) for c in _float32_counts(masks))


def _torch_influence(hits, sums, in_count, out_count):
    """_influence in torch: hits / a - (sums - hits) / b, in _influence's order."""
    out = (sums[:, None] - hits) / out_count
    return hits.div_(in_count).sub_(out)


def _device_blocks(masks, test_correct, chunk_rows: int, device):
    """influence_blocks' blocks as float32 tensors on `device`."""
    import torch

    m = torch.from_numpy(masks).to(device, torch.float32)
    counts = _torch_counts(masks, device)
    for start in range(0, test_correct.shape[1], chunk_rows):
        d = torch.from_numpy(np.ascontiguousarray(test_correct[:, start : start + chunk_rows])).to(device, torch.float32)
        yield _torch_influence(d.T @ m, d.sum(0), *counts)


def _device_pass(masks, test_correct, groups: dict, rest: np.ndarray, chunk_rows: int, device):
    """influence_pass's blocks, computed on `device` and brought back as numpy arrays."""
    import torch

    m = {name: torch.from_numpy(masks[trials]).to(device, torch.float32) for name, trials in groups.items()}
    counts = {"all": _torch_counts(masks, device), "a": _torch_counts(masks[groups["a"]], device),
              "b": _torch_counts(masks[groups["b"]], device), "rest": _torch_counts(masks[rest], device)}
    for start in range(0, test_correct.shape[1], chunk_rows):
        columns = test_correct[:, start : start + chunk_rows]
        hits, sums = {}, {}
        for name, trials in groups.items():
            d = torch.from_numpy(np.ascontiguousarray(columns[trials])).to(device, torch.float32)
            hits[name], sums[name] = d.T @ m[name], d.sum(0)
        full, full_sums = hits["a"] + hits["b"], sums["a"] + sums["b"]
        out = {}
        if "held" in groups:
            out["rest"] = _torch_influence(full - hits["held"], full_sums - sums["held"], *counts["rest"])
        out["all"] = _torch_influence(full, full_sums, *counts["all"])
        out["a"] = _torch_influence(hits["a"], sums["a"], *counts["a"])
        out["b"] = _torch_influence(hits["b"], sums["b"], *counts["b"])
        yield {name: block.cpu().numpy() for name, block in out.items()}


def strongest(masks: np.ndarray, test_correct: np.ndarray, chunk_rows: int | None = None,
              device: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(max_influence, top_train) of every test example, strongest_influence over the influence
    blocks of these trials: on `device` the blocks never leave it (the null's draws and the
    spread's splits need only these two vectors); None, numpy on the CPU.

    A 0/1 column that is the same in every trial (most test examples of a real run: right in every
    trial) has an influence row of exact zeros (a / a - b / b, or 0 - 0), so its strongest influence
    is 0 at the first defined training example, the block's answer bit for bit, with no product:
    only the columns that vary are computed (on digits' default run a fifth of them)."""
    undefined_columns = undefined(masks)
    if test_correct.shape[1] == 0:
        return np.empty(0), np.empty(0, dtype=np.intp)
    if test_correct.dtype == bool:
        varies = varying_columns(test_correct)
        if not varies.all():
            value, top = (np.full(test_correct.shape[1], c[0]) for c in _constant_strongest(undefined_columns[None]))
            if varies.any():
                value[varies], top[varies] = strongest(masks, test_correct[:, varies], chunk_rows, device)
            return value, top
    if device is None:
        parts = [strongest_influence(block, undefined_columns)
                 for block in influence_blocks(masks, test_correct, chunk_rows, reuse=True)]
    else:
        import torch

        columns = torch.from_numpy(undefined_columns).to(device)
        parts = []
        for block in _device_blocks(masks, test_correct, chunk_rows or default_chunk_rows(masks.shape[1]), device):
            block[:, columns] = -torch.inf
            value, top = block.max(1)  # the first of tied maxima, as numpy's argmax
            value, top = value.double().cpu().numpy(), top.cpu().numpy()
            none = np.isneginf(value)
            parts.append((np.where(none, np.nan, value), np.where(none, -1, top)))
    return tuple(np.concatenate(part) for part in zip(*parts))


def varying_columns(test_correct: np.ndarray) -> np.ndarray:
    """bool [n]: the 0/1 columns that are not the same in every trial (right in some, wrong in others)."""
    count = test_correct.sum(0)
    return (count > 0) & (count < len(test_correct))


def _constant_strongest(undefined_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(max_influence, top_train) of a 0/1 column the same in every trial, for each row of
    undefined_rows [sets, n_train] (a set of trials' undefined training examples): its influence row
    is exact zeros, so 0 at the first defined training example; NaN and -1 where none is."""
    some = (~undefined_rows).any(1)
    first = (~undefined_rows).argmax(1) if undefined_rows.shape[1] else np.zeros(len(undefined_rows), np.intp)
    return np.where(some, 0.0, np.nan), np.where(some, first, -1)


class GroupedHalves:
    """Both halves' strongest influences of splits made of whole groups of trials (halves.grouped's
    members and chosen), for blocks of test columns: one product per group, P_g = D_g^T M_g (a pass
    in all), and each chosen half's sums its groups' added, one product of the 0/1 [splits, groups]
    choice with the stacked P_g (splits x groups trials' worth of arithmetic instead of a pass per
    split); the other half's are all the groups' less them. For 0/1 targets each half's strongest is
    strongest(masks[half], test_correct[half]) bit for bit (the same integer sums and arithmetic);
    soft targets' sums are rounded in another order. extra: more 0/1 rows over the groups whose sums
    the caller reads from each block's `hits` (the estimate's pass: its own halves, the groups' unions)."""

    def __init__(self, masks: np.ndarray, members: list[np.ndarray], chosen: np.ndarray, extra=()):
        self.splits, self.n, groups = len(chosen), masks.shape[1], len(members)
        self.order = np.concatenate(members)
        self.lengths = np.array([len(m) for m in members])
        self.starts = np.concatenate([[0], np.cumsum(self.lengths)[:-1]])
        self.m32 = masks[self.order].astype(np.float32)  # the groups' trials contiguous
        self.weights = np.concatenate([chosen, ~chosen], axis=1).reshape(2 * self.splits, groups).astype(np.float32)
        self.in_count = self.weights @ np.add.reduceat(self.m32, self.starts, axis=0)  # exact below 2^24
        self.out_count = (self.weights @ self.lengths.astype(np.float32))[:, None] - self.in_count
        self.undefined = (self.in_count == 0) | (self.out_count == 0)
        self.in_count[self.in_count == 0], self.out_count[self.out_count == 0] = np.nan, np.nan
        self.combine = np.vstack([chosen, *extra, np.ones(groups, bool)]).astype(np.float32)  # last: every trial
        edges = np.flatnonzero(np.diff(self.lengths, prepend=-1, append=-1))  # runs of one size: a batched product each
        self.runs = [(g0, g1, self.lengths[g0]) for g0, g1 in zip(edges[:-1], edges[1:])]
        self.buffers = None

    def width(self, budget_bytes: int = 256 << 20) -> int:
        """Test columns per block whose buffers stay within budget_bytes."""
        return max(1, budget_bytes // (4 * self.n * (len(self.lengths) + len(self.combine) + 1)))

    def block(self, columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(max_influence, top_train) [2 x splits, w] of test columns [trials, w] (the trials in the
        masks' order), row 2i of split i's chosen half, 2i + 1 of the other; self.hits[r] then holds
        combine row r's sums [w, n_train] until the next block."""
        d = columns[self.order].astype(np.float32)
        w, groups = d.shape[1], len(self.lengths)
        if self.buffers is None or self.buffers[2].shape[0] != w:  # the same memory for every full block
            self.buffers = (np.empty((groups, w, self.n), np.float32),
                            np.empty((len(self.combine), w, self.n), np.float32), np.empty((w, self.n), np.float32))
        products, self.hits, scratch = self.buffers
        for g0, g1, size in self.runs:
            t0, t1 = self.starts[g0], self.starts[g0] + (g1 - g0) * size
            np.matmul(d[t0:t1].reshape(g1 - g0, size, w).transpose(0, 2, 1),
                      self.m32[t0:t1].reshape(g1 - g0, size, self.n), out=products[g0:g1])
        np.matmul(self.combine, products.reshape(groups, -1), out=self.hits.reshape(len(self.combine), -1))
        sums = self.weights @ np.add.reduceat(d, self.starts, axis=0)
        value, top = np.empty((2 * self.splits, w)), np.empty((2 * self.splits, w), np.intp)
        for i in range(self.splits):  # the other half's sums first: _influence works in place
            other = np.subtract(self.hits[-1], self.hits[i], out=products[0])
            for h, half in ((2 * i + 1, other), (2 * i, self.hits[i])):
                influence = _influence(half, sums[h], self.in_count[h], self.out_count[h], scratch)
                value[h], top[h] = strongest_influence(influence, self.undefined[h])
        return value, top


def grouped_strongest(masks: np.ndarray, test_correct: np.ndarray, members: list[np.ndarray], chosen: np.ndarray,
                      budget_bytes: int = 256 << 20) -> tuple[np.ndarray, np.ndarray]:
    """GroupedHalves over every test column: (max_influence, top_train), [splits, 2, n_test] each,
    [:, 0] of the chosen half and [:, 1] of the other. A 0/1 column the same in every trial is 0 at
    each half's first defined example, with no product (as strongest)."""
    _check(masks, test_correct, "test_correct")
    grouped, n_test = GroupedHalves(masks, members, chosen), test_correct.shape[1]
    halves = 2 * len(chosen)
    value, top = np.full((halves, n_test), np.nan), np.full((halves, n_test), -1)
    varies = np.ones(n_test, bool)
    if test_correct.dtype == bool:
        varies = varying_columns(test_correct)
        value[:, ~varies], top[:, ~varies] = (c[:, None] for c in _constant_strongest(grouped.undefined))
    columns, width = np.flatnonzero(varies), grouped.width(budget_bytes)
    for lo in range(0, len(columns), width):
        block = columns[lo : lo + width]
        value[:, block], top[:, block] = grouped.block(test_correct[:, block])
    return value.reshape(-1, 2, n_test), top.reshape(-1, 2, n_test)


def prefixes(masks: np.ndarray, orders, counts: np.ndarray, rows: int | None = None):
    """(max_influence, top_train, mean_influence), each [len(orders), len(counts)]: for each order (a
    permutation of the trials), the statistics of the 0/1 test columns right in exactly its first c
    trials, for each c of the increasing `counts` (null.by_count). The columns of one order are
    nested, so their masked sums are the running sums of M's rows in that order: one pass over M per
    order for all of them. Each is computed as influence_blocks and strongest_influence compute a
    column (the same float32 counts, the same operations): bit for bit that column's. mean_influence
    as mean_influences, from the running sum of u = M w_V: (sum_{k < c} u[order[k]] - c sum_V 1/b) / |V|
    (float64, rounded in another order). What does not depend on the order is computed once."""
    n_train = masks.shape[1]
    in_count, out_count = _counts(masks)
    defined = np.isfinite(in_count) & np.isfinite(out_count)
    u = _matvec(masks, np.where(defined, 1 / in_count + 1 / out_count, 0.0))
    shift, size = counts * (1 / out_count[defined]).sum(), defined.sum()
    float_counts, undefined_columns = _float32_counts(masks), undefined(masks)
    block_rows = rows or default_chunk_rows(n_train)
    value, top, mean = (np.empty((len(orders), len(counts)), dtype) for dtype in (np.float64, np.intp, np.float64))
    for r, order in enumerate(orders):
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[r] = (np.concatenate([[0.0], np.cumsum(u[order])])[counts] - shift) / size
        running, done = np.zeros(n_train, np.float32), 0  # M's rows summed over the first `done` trials of order
        for start in range(0, len(counts), block_rows):
            chunk = counts[start : start + block_rows]
            hits = np.empty((len(chunk), n_train), np.float32)
            for q, c in enumerate(chunk):
                running += masks[order[done:c]].sum(0, dtype=np.float32)
                hits[q], done = running, c
            block = _influence(hits, chunk.astype(np.float32), *float_counts, np.empty_like(hits))
            value[r, start : start + len(chunk)], top[r, start : start + len(chunk)] = strongest_influence(
                block, undefined_columns)
    return value, top, mean


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


def mean_influences(masks: np.ndarray, test_correct: np.ndarray,
                    train: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """(test_mean_influence [n_test], train_mean_influence [n_train]), float64, with no full matrix
    (train False: None for the second, a product fewer).

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
    if not train:
        return test_mean, None
    train_mean = _matvec(masks, d.mean(1), transpose=True) * w - s.mean() / out_count
    return test_mean, train_mean


def high_influence_pairs(
    block: np.ndarray, row_offset: int, memorization: np.ndarray, *, min_influence: float, min_memorization: float
) -> np.ndarray:
    """Rows (train_index, test_index, influence, memorization) where influence >= min_influence and
    the training example's memorization >= min_memorization (Feldman & Zhang's high-influence pairs)."""
    eligible = np.flatnonzero(memorization >= min_memorization)  # few: only their columns are read
    test, column = np.nonzero(block[:, eligible] >= min_influence)
    train = eligible[column]
    return np.column_stack([train, test + row_offset, block[test, train], memorization[train]])


def undefined(masks: np.ndarray) -> np.ndarray:
    """bool [n_train]: the training examples in every trial or in none, whose influence columns are NaN."""
    kept = masks.sum(0)
    return (kept == 0) | (kept == len(masks))


def strongest_influence(block: np.ndarray, columns: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For each test row of an influence block: (max_j influence[i, j], that j), the training example
    with the largest influence on it; undefined entries are skipped, and a row with none gives
    (NaN, -1). ttest's `max_influence` is the first; `top_memorization` is memorization[j] of the second.
    columns: the block's undefined columns (`undefined`), where the caller knows that its NaNs are
    those: they are set to -inf for the argmax and back to NaN after, instead of a filled copy of the
    block (two passes over it fewer)."""
    if columns is None:
        filled = np.where(np.isnan(block), -np.inf, block)
    else:
        filled = block
        filled[:, columns] = -np.inf
    top = filled.argmax(1)
    value = filled[np.arange(len(block)), top].astype(np.float64)
    if columns is not None:
        block[:, columns] = np.nan
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
