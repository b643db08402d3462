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


# Groups of the reliability spread's splits: 32, so that 20 splits cost about a pass and a half at
# CIFAR-10 size instead of 20 (influence.grouped_strongest), while trials sharing a group, always on
# one side, take about 1/32 of the split's variance from the spread (benchmarks/spread.py measures it).
GROUPS = 32


def grouped(trials: int, seed: int, split_seeds, within=None,
            groups: int = GROUPS) -> tuple[list[np.ndarray], np.ndarray]:
    """The reliability spread's splits, made of whole groups of trials (influence.GroupedHalves):
    (members, chosen). members: each group's trials, largest groups first. The trials, in the order of
    a np.random.default_rng(seed) permutation, are cut into `groups` groups of trials // groups or
    one more (an even number of each; the groups of one more, one short, leave a single trial where
    that is odd), every trial alone where there are fewer trials than groups. within: the estimate's
    own split (halves), each half cut into groups / 2 of its own, so that its halves' sums are sums of
    groups too; the trials in order (a permuted, then b permuted) are still a uniform permutation.

    chosen: bool [splits, len(members)], split i's first half, half the groups of each size, drawn
    with default_rng(split_seeds[i]): trials // 2 trials, a uniform random half over the draw of the
    groups (the choice does not depend on them); given the groups, trials of one group are always on
    one side (what that takes from the spread: benchmarks/spread.py)."""
    parts = (np.arange(trials),) if within is None else tuple(within)
    if groups % (2 * len(parts)):
        raise ValueError(f"{len(parts)} parts of the trials take {groups} groups: a multiple of {2 * len(parts)}")
    rng, members = np.random.default_rng(seed), []
    for part in parts:
        members += _cut(part[rng.permutation(len(part))], groups // len(parts))
    members.sort(key=len, reverse=True)
    lengths = np.array([len(m) for m in members])
    chosen = np.zeros((len(split_seeds), len(members)), bool)
    for row, split_seed in zip(chosen, split_seeds):
        rng = np.random.default_rng(split_seed)
        for size in np.unique(lengths)[::-1]:
            same = np.flatnonzero(lengths == size)
            row[same[rng.permutation(len(same))[: len(same) // 2]]] = True
    return members, chosen


def _cut(trials: np.ndarray, groups: int) -> list[np.ndarray]:
    """grouped's groups of one sequence of trials (groups even): an even number of each size."""
    size, extra = divmod(len(trials), groups)
    if size == 0:
        return [trials[i : i + 1] for i in range(len(trials))]
    even = extra - extra % 2
    lengths = [size + 1] * even + [size] * (groups - even) + [1] * (extra % 2)
    return np.split(trials, np.cumsum(lengths)[:-1])


def sides(members: list[np.ndarray], chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The two halves of one grouped split (a row of grouped's chosen), each sorted as halves' are."""
    none = [np.empty(0, np.intp)]
    return (np.sort(np.concatenate(none + [m for m, c in zip(members, chosen) if c])),
            np.sort(np.concatenate(none + [m for m, c in zip(members, chosen) if not c])))
