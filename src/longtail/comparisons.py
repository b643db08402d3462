"""The ttest stage's computation: each tested group (a CIE type, the PIEs) against its comparison
group, with every test of longtail.stats, the random-subset control, the difficulty-matched
comparison (longtail.matched) and Benjamini-Hochberg adjusted p across the groups."""

import warnings

import numpy as np

from longtail import matched, stats


def groups(cie_masks: dict, pie: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each tested group with its comparison group: a CIE type against the examples where the two
    models agree (docs/DESIGN.md), the PIEs against the examples where the populations agree."""
    agree = ~cie_masks["cie"]
    return {"cie": (cie_masks["cie"], agree), "cie_u": (cie_masks["cie_u"], agree),
            "cie_c": (cie_masks["cie_c"], agree), "pie": (pie, ~pie)}


def compare(values: np.ndarray, tested: dict, difficulty: np.ndarray, rare: np.ndarray | None, cfg,
            seed: int) -> dict:
    """group -> its results (metrics/ttest.json). values: the statistic per test example;
    difficulty: each test example's trial accuracy; rare: the synthetic set's known long tail, or
    None; cfg: params.Ttest. Group n draws from seed + n. A warning of the tests names its group."""
    results = {}
    for n, (kind, (group, comparison)) in enumerate(tested.items()):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = stats.two_sample_tests(values[group], values[comparison], bootstrap=cfg.bootstrap, seed=seed + n)
        for w in caught:
            warnings.warn(f"{kind}: {w.message}", stacklevel=2)
        r["control"] = stats.random_control(values, int(group.sum()), comparison, r["t"],
                                            draws=cfg.control_draws, seed=seed + n)
        r["matched"] = matched.matched_test(values, group, comparison, difficulty, width=cfg.strata_width,
                                            draws=cfg.matched_draws, seed=seed + n)
        if rare is not None:  # the synthetic set knows its long tail: is it over-represented?
            r["rare"] = stats.over_representation(group, rare)
        results[kind] = r
    for kind, adjusted in zip(results, stats.benjamini_hochberg([r["p"] for r in results.values()])):
        results[kind]["p_bh"] = adjusted
    for kind, adjusted in zip(results, stats.benjamini_hochberg([r["matched"]["p"] for r in results.values()])):
        results[kind]["matched"]["p_bh"] = adjusted
    return results
