"""Simulated worlds whose truth is known: what the coverage benchmark (benchmarks/coverage.py) and
the suite's fast checks of it measure every interval and test against. Each call is one independent
realization: coverage is a rate over calls, never over groups drawn from one."""

import numpy as np

from longtail.analysis import bias


def populations(rng: np.random.Generator, *, members: int, n: int, classes: int, harm: float, hurt: int = 0,
                paired: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[float, float]]:
    """(reference [members, n], compressed [members, n], y [n], (true CEV, true SDE)).

    Each test example i has its chance p_i ~ Beta(8, 1) that a reference member labels it right
    (hard and easy examples, as on real test sets); compression takes `harm` off that chance for the
    examples of class `hurt` (0: nothing changes). A wrong label is uniform over the other classes.
    Paired: compressed member m draws from the same uniforms as reference member m (one seed, as
    seeds.member), so the pair's errors coincide where the chances allow. The truth is Blakeney et
    al.'s CEV and SDE of the expected rates over the members, on this test set."""
    y = np.arange(n) % classes
    chance = rng.beta(8, 1, n)
    harmed = np.clip(chance - harm * (y == hurt), 0, 1)

    def members_of(p, u):
        wrong = (y + 1 + rng.integers(0, classes - 1, (members, n))) % classes
        return np.where(u < p, y, wrong)

    u = rng.random((members, n))
    reference = members_of(chance, u)
    compressed = members_of(harmed, u if paired else rng.random((members, n)))

    def expected_rates(p):
        fnr = np.array([(1 - p[y == c]).mean() for c in range(classes)])
        fpr = np.array([(1 - p[y != c]).sum() / (classes - 1) / (y != c).sum() for c in range(classes)])
        return fpr, fnr

    cev, sde, _ = bias.cev_sde(expected_rates(chance), expected_rates(harmed))
    return reference, compressed, y, (cev, sde)
