"""The ttest stage's computation: each tested group (a CIE type, the PIEs) against its comparison
group, asked two questions and the paper's test:

    excess    Q1, the paper's question: are the group's examples more influenced than the
              comparison's, beyond the estimator's noise? Welch's t on each example's excess over
              its influence-free null (estimate.null), with the trials a difference of that size
              would need.
    matched   Q2: more influenced than comparison examples of the same difficulty? The excess
              adjusted for trial accuracy, every member used (analysis.matched).
    t, p, ... the paper's raw Student t on the statistic (Dam et al. 2023), with Welch, Mann-Whitney,
              Hedges' g and the random-subset control (longtail.stats): confounded by the
              estimator's noise, which grows with difficulty.

The family (docs/DESIGN.md): Q1 for the CIEs is the confirmatory test, the paper's question, judged
at alpha on its own p (`role` confirmatory, its `p_bh` its p). Q1 for every other group and Q2 for
every group are exploratory: one Benjamini-Hochberg family across groups x questions (`role`
exploratory, `p_bh`, `family` its size), and their verdicts follow the adjusted p. The paper's raw
t is reported for comparison, adjusted across the groups apart."""

import warnings

import numpy as np

from longtail import LongtailError, layout
from longtail.analysis import matched, stats
from longtail.analysis.cie import GROUPS
from longtail.estimate import null


def two_questions(excess: np.ndarray, draws: np.ndarray, group: np.ndarray, comparison: np.ndarray,
                  difficulty: np.ndarray, *, means: np.ndarray | None = None, columns: np.ndarray | None = None,
                  sampled: np.ndarray | None = None) -> tuple[dict, dict]:
    """(Q1, Q2) for one group against its comparison (bool masks [n]): Welch's t of the excess, and
    the excess adjusted for difficulty (analysis.matched). Each standard error is widened by its
    design effect, measured on the influence-free joint `draws` and written beside it
    (`design_effect`: how much shared or skewed noise widens it; null.design_effect); a small group's
    Q1 refers its statistic to its distribution at the noise the draws measure (null.noise: a group
    of 2 or 3 cannot measure its own).

    draws [R, m] are those of the test examples `columns` (all n where None), of which `sampled`
    (bool [m]) are a uniform sample of the test set (null.sample_columns): the draws measure the
    group on all its members and the comparison on its sampled ones, a uniform sample of it. means:
    the null values the excess was formed with where the draws did not give them (by_count's; see
    null.excess_draws); None: the draws' own."""
    def q1(v, effect=None, noise=None):
        return stats.welch_difference(v[group], v[comparison], design_effect=effect, noise=noise)

    def q2(v, effect=None):
        return matched.adjusted_test(v, group, comparison, difficulty, design_effect=effect)

    if columns is None:
        columns, sampled = np.arange(len(excess)), np.ones(len(excess), bool)
    finite = np.isfinite(excess)
    drawn_group, drawn_comparison = group[columns], comparison[columns] & sampled
    drawn_means = None if means is None else means[columns]

    def drawn_q1(v):
        return stats.welch_difference(v[drawn_group], v[drawn_comparison])

    def drawn_q2(v):
        return matched.adjusted_test(v, drawn_group, drawn_comparison, difficulty[columns])

    whole = len(columns) == len(excess) and sampled.all()  # the draws' sizes are the groups'
    sizes = None if whole else (int((group & finite).sum()), int((comparison & finite).sum()))
    effect = null.design_effect(drawn_q1, draws, drawn_means)
    noise = null.noise(draws, drawn_group & finite[columns], drawn_comparison & finite[columns], drawn_means, sizes)
    first = q1(excess, effect, noise) | {"design_effect": effect}
    effect = null.design_effect(drawn_q2, draws, drawn_means)
    return first, q2(excess, effect) | {"design_effect": effect}


def groups(cie_masks: dict, pie_masks: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Each tested group with its comparison group: a CIE type against the examples where the two
    models agree (docs/DESIGN.md), the PIEs against the examples where the populations' modal labels
    agree, the most shifted against the rest of the test set."""
    agree = ~cie_masks["cie"]
    compared = {kind: (cie_masks[kind], agree) for kind in ("cie", "cie_u", "cie_c")} | {
        kind: (pie_masks[kind], ~pie_masks[kind]) for kind in ("pie", "shifted")}
    return {group: compared[group] for group in GROUPS}


def compare(values: np.ndarray, draws: np.ndarray, tested: dict, difficulty: np.ndarray, rare: np.ndarray | None,
            cfg, seed: int, trials: int, joint: dict | None = None) -> dict:
    """group -> its results (metrics/ttest.json). values: the statistic per test example; draws: its
    values on influence-free trials [R, n] (estimate.null), whose means are the null; joint: the
    joint draws of the two questions' noise, {"columns", "sampled", "draws" [R, m]} (the
    influence_free stage; two_questions), where `draws` are not joint (by_count's); difficulty: each
    test example's trial accuracy over the `trials` trials; rare: the synthetic set's known long
    tail, or None; cfg: params.Ttest. Group n draws from seed + n. A warning of the tests names its group."""
    excess = null.excess(values, draws)
    noise_draws, where = (draws, {}) if joint is None else (joint["draws"], {
        "means": np.asarray(draws, np.float64).mean(0), "columns": joint["columns"], "sampled": joint["sampled"]})
    results = {}
    for n, (kind, (group, comparison)) in enumerate(tested.items()):
        comparison = comparison & ~group
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            r = stats.two_sample_tests(values[group], values[comparison])
        for w in caught:
            warnings.warn(f"{kind}: {w.message}", stacklevel=2)
        r["control"] = stats.random_control(values, int(group.sum()), comparison, r["t"],
                                            draws=cfg.control_draws, seed=seed + n)
        r["excess"], r["matched"] = two_questions(excess, noise_draws, group, comparison, difficulty, **where)
        r["excess"]["trials_to_detect"] = stats.trials_to_detect(trials, r["excess"]["se"], r["excess"]["diff"], cfg.alpha)
        if rare is not None:  # the synthetic set knows its long tail: is it over-represented?
            r["rare"] = stats.over_representation(group, rare)
        results[kind] = r
    for kind, adjusted in zip(results, stats.benjamini_hochberg([r["p"] for r in results.values()])):
        results[kind]["p_bh"] = adjusted
    return family(results)


CONFIRMATORY = ("cie", "excess")  # the paper's question: are the CIEs more influenced beyond the noise?


def family(results: dict) -> dict:
    """Each answer's role in the family, in place: the confirmatory test keeps its p (`p_bh` = p);
    the exploratory ones are adjusted together (Benjamini-Hochberg), `family` the number of them
    with a p."""
    exploratory = [(kind, q) for kind in results for q in ("excess", "matched") if (kind, q) != CONFIRMATORY]
    p = [results[kind][q]["p"] for kind, q in exploratory]
    size = sum(v is not None for v in p)
    for (kind, q), adjusted in zip(exploratory, stats.benjamini_hochberg(p)):
        results[kind][q] |= {"role": "exploratory", "p_bh": adjusted, "family": size}
    if CONFIRMATORY[0] in results:
        kind, q = CONFIRMATORY
        results[kind][q] |= {"role": "confirmatory", "p_bh": results[kind][q]["p"], "family": 1}
    return results


def check_inputs(values: np.ndarray, draws: np.ndarray, statistic: str, **per_example: np.ndarray) -> None:
    """Refuse arrays of different runs: the statistic's values [n], its influence-free draws [R, n]
    (at least 3) and each of `per_example` (name: array of one entry per test example)."""
    if draws.shape[1] != len(values) or len(draws) < 3:
        raise LongtailError(f"{layout.null_file(statistic)} holds {draws.shape[0]} influence-free draws of "
                            f"{draws.shape[1]} test examples, {layout.statistic_file(statistic)} {len(values)} (at "
                            "least 3 draws needed): rerun the stage that writes them (`dvc repro --force estimate`)")
    for name, array in per_example.items():
        if len(array) != len(values):
            raise LongtailError(f"{name} cover {len(array)} test examples, {layout.statistic_file(statistic)} "
                                f"{len(values)}: rerun the pipeline (`dvc repro`)")


def rows(results: dict, alpha: float) -> list[tuple]:
    """plots/ttest.csv's rows: each group's two answers, the paper's t and whether its p <= alpha."""
    return [(k, r["excess"]["diff"], r["excess"]["p"], r["matched"]["diff"], r["matched"]["p"], r["t"], r["p"],
             r["p"] is not None and r["p"] <= alpha) for k, r in results.items()]

