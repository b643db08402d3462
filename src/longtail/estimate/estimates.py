"""The estimate stage's computation, without I/O: influence and memorization from the trials
(Feldman & Zhang 2020; definitions in docs/DESIGN.md), their uncertainty and, where labels were
flipped, how well memorization finds them.

The influence matrix [n_test, n_train] can be gigabytes, so it is produced a block of rows at a
time by influence_rows, a generator whose return value holds what the blocks reduce to (the
high-influence pairs, each row's maximum); the caller streams the blocks to disk."""

from dataclasses import dataclass

import numpy as np

from longtail import LongtailError, layout, seeds
from longtail.data import planted
from longtail.estimate import counterfactual, halves, influence, null, uncertainty

SE_TARGETS = (0.05, 0.02)  # standard errors whose trial counts metrics/estimate.json reports


@dataclass(frozen=True)
class Rows:
    """What the influence matrix's rows reduce to."""

    pairs: np.ndarray  # [p, 4]: train_index, test_index, influence, memorization; by influence, largest first
    max_influence: np.ndarray  # [n_test]: the largest influence of any training example on each test example
    top_train: np.ndarray  # [n_test]: that training example
    nan_count: int  # undefined entries (training examples in every trial or in none)
    halves: tuple[tuple[np.ndarray, np.ndarray], ...]  # (max_influence, top_train) on each half of the trials
    predicted: np.ndarray | None  # [h, n_test]: the held-out trials' outcomes the rest's matrix predicts
    spread: tuple[np.ndarray, np.ndarray] | None = None  # the spread's halves' strongest, where the pass gave them


@dataclass(frozen=True)
class Estimates:
    arrays: dict[str, np.ndarray]  # file stem under data/influence/ -> array
    pairs: np.ndarray  # high_influence_pairs.csv's rows
    stability: tuple[np.ndarray, np.ndarray]  # (trials, jaccard): memorization_stability.csv
    summary: dict  # metrics/estimate.json


def per_example(masks, train_target, test_target, train_correct) -> dict[str, np.ndarray]:
    """Every per-example estimate from one set of masks, for the target (estimate.target) arrays:
    memorization with its standard error, Data-OOB and the Banzhaf value with theirs, the two mean
    influences, and each training example's accuracy (0/1) in the trials that trained on it (p_in:
    planted truth reads it as the fit)."""
    p_in, in_count, p_out, out_count, var_in, var_out = influence.moments(masks, train_target)
    test_mean, train_mean = influence.mean_influences(masks, test_target)
    banzhaf, banzhaf_se = influence.banzhaf(masks, test_target)
    fit = p_in if train_target is train_correct else influence.proportions(masks, train_correct)[0]
    return {"memorization": p_in - p_out, "memorization_se": np.sqrt(var_in / in_count + var_out / out_count),
            "data_oob": p_out, "data_oob_se": np.sqrt(var_out / out_count), "banzhaf": banzhaf,
            "banzhaf_se": banzhaf_se, "test_mean_influence": test_mean, "train_mean_influence": train_mean,
            "p_in": fit}


def influence_rows(masks, test_correct, memorization, rows: int, *, halves, held, min_influence: float,
                   min_memorization: float, advance=None, device: str | None = None, spread=None):
    """Yields influence [n_test, n_train] in blocks of `rows` rows (calling advance() after each);
    returns their Rows. One pass (influence.influence_pass) gives, beside the published matrix, each
    row's strongest influence on each half of the trials (`halves`), the held-out trials' (`held`)
    predicted outcomes and, for 0/1 targets on the CPU, the strongest on each half of the reliability
    spread's splits (`spread`, split's). device: where the products run (influence.on_device)."""
    pairs, strongest, nan_count, start = [], [], 0, 0
    half_strongest, predicted, spread_found = ([], []), [], []
    # Each set of trials' undefined columns: the only NaNs of its blocks (targets are finite)
    rest = np.setdiff1d(np.arange(len(masks)), held)
    undefined = {"all": influence.undefined(masks), "a": influence.undefined(masks[halves[0]]),
                 "b": influence.undefined(masks[halves[1]]), "rest": influence.undefined(masks[rest])}
    held_masks = masks[held].astype(np.float32)
    for blocks in influence.influence_pass(masks, test_correct, halves, held, rows, device, spread):
        block = blocks["all"]
        nan_count += len(block) * int(undefined["all"].sum())
        pairs.append(influence.high_influence_pairs(block, start, memorization, min_influence=min_influence,
                                                    min_memorization=min_memorization))
        strongest.append(influence.strongest_influence(block, undefined["all"]))
        for parts, half in zip(half_strongest, ("a", "b")):
            parts.append(influence.strongest_influence(blocks[half], undefined[half]))
        if "rest" in blocks:
            predicted.append(counterfactual.predict(blocks["rest"], held_masks, undefined["rest"]))
        if "spread" in blocks:
            spread_found.append(blocks["spread"])
        start += len(block)
        yield block
        if advance:
            advance()
    table = np.concatenate(pairs) if pairs else np.empty((0, 4))
    max_influence, top_train = (np.concatenate(parts) for parts in zip(*strongest))
    return Rows(table[np.argsort(-table[:, 2], kind="stable")], max_influence, top_train, nan_count,
                tuple(tuple(np.concatenate(p) for p in zip(*parts)) for parts in half_strongest),
                np.concatenate(predicted, axis=1) if predicted else None,
                tuple(np.concatenate(part, axis=1).reshape(-1, 2, start) for part in zip(*spread_found)) or None)


def null_summary(statistics: dict, draws: dict) -> dict:
    """metrics/estimate.json's `null`: how much of each statistic the influence-free null explains
    (the correlation across test examples of the statistic with its null value: near 1, ranking
    examples by it ranks them by their trials' disagreement), and the mean excess over it."""
    summary = {"draws": len(next(iter(draws.values())))}
    for name, value in statistics.items():
        free = draws[name].mean(0, dtype=np.float64)
        summary[name] = {"null_mean": float(np.nanmean(free)), "excess_mean": float(np.nanmean(null.excess(value, draws[name]))),
                         "correlation": uncertainty.correlation(value, free)}
    return summary


def split(trials: int, cfg, seed: int):
    """(halves, held, spread): the split-half of the reliabilities (halves.halves with the seed
    itself), the trials held out for the counterfactual check (estimate.holdout) and the reliability
    spread's splits (uncertainty.spread_splits, within the halves: the pass gives both)."""
    split_halves = halves.halves(trials, seed)
    return (split_halves, counterfactual.holdout(trials, cfg.holdout, seeds.derive(seed, seeds.HOLDOUT)),
            uncertainty.spread_splits(trials, seed, cfg.reliability_splits, within=split_halves))


def finish(masks, train_target, test_target, per: dict, reduced: Rows, *, flipped, cfg, seed: int,
           rows: int, device: str | None = None) -> Estimates:
    """Everything the estimate stage writes but the influence matrix: `per` from per_example,
    `reduced` from influence_rows (with split's halves and held-out trials), cfg the estimate params
    (params.Estimate). The targets are the arrays of estimate.target; flipped: the prepared data's
    planted flips (bool [n], or None); device: where the null's and the spread's products run."""
    if flipped is not None and flipped.shape != masks.shape[1:]:
        raise LongtailError(f"the prepared data has {len(flipped)} training examples, the trials {masks.shape[1]}: "
                            "rerun the pipeline (`dvc repro`)")
    memorization, se = per["memorization"], per["memorization_se"]
    n_train = masks.shape[1]
    (half_a, half_b), held, _ = split(len(masks), cfg, seed)
    high_mask = memorization >= cfg.pair_memorization
    high = int(high_mask.sum())
    # The set whose settling the stability curve shows: the high-memorization examples, or the top 1%
    # where there are none.
    stability_k = high or max(1, round(0.01 * n_train))
    # Over all examples the median se is often 0 (an example every trial gets right has none); over
    # the high-memorization ones, those the analysis is about, it says what trials they need.
    reliability = (_split_half(masks, train_target, test_target, (half_a, half_b), reduced.halves, seed)
                   | uncertainty.median_se(se, len(masks), SE_TARGETS)
                   | uncertainty.median_se(se[high_mask], len(masks), SE_TARGETS, suffix="_high"))
    summary = {
        "trials": len(masks),
        "target": cfg.target,
        "n_train": n_train,
        "n_test": test_target.shape[1],
        "dtype": cfg.dtype,
        "undefined_train_examples": int(np.isnan(memorization).sum()),  # in every trial or in none
        "influence_nan": reduced.nan_count,
        "memorization_mean": float(np.nanmean(memorization)),
        "high_memorization": high,
        "test_mean_influence_mean": float(np.nanmean(per["test_mean_influence"])),
        "high_influence_pairs": len(reduced.pairs),
        "reliability": reliability,
        # how far each reliability moves between random splits of the same trials: its error bar
        "reliability_spread": uncertainty.split_half_spread(masks, train_target, test_target, seed,
                                                            cfg.reliability_splits, rows, device,
                                                            within=(half_a, half_b), strongest=reduced.spread),
        "stability_k": stability_k,  # the size of the set plots/memorization_stability.csv follows
        # the field's other estimators from the same masks (pyDVL, OpenDataVal): their means and the
        # median standard error of each example's value
        **{name: {"mean": float(np.nanmean(per[name])), "se_median": float(np.nanmedian(per[f"{name}_se"]))}
           for name in ("data_oob", "banzhaf")},
        "lds": counterfactual.lds(reduced.predicted, test_target[held]),  # does the matrix predict new subsets?
    }
    if flipped is not None and flipped.any():
        summary["planted"] = planted.found(memorization, flipped, train_fit=per["p_in"]) | {
            "data_oob_auc": planted.found(-per["data_oob"], flipped)["auc"]}  # a low Data-OOB flags a flip
    statistics = {"max_influence": reduced.max_influence,
                  "top_memorization": influence.top_memorization(reduced.top_train, memorization),
                  "mean_influence": per["test_mean_influence"]}
    free = null_draws(masks, test_target, memorization, draws=cfg.null_draws, seed=seed, rows=rows, device=device)
    summary["null"] = null_summary(statistics, free)
    arrays = {"memorization": memorization, "memorization_se": se.astype(np.float32),
              "train_mean_influence": per["train_mean_influence"],
              **{name: per[name] for name in ("data_oob", "data_oob_se", "banzhaf", "banzhaf_se")},
              **{layout.statistic_file(name)[:-4]: value for name, value in statistics.items()},
              **{layout.null_file(name)[:-4]: value for name, value in free.items()}}
    assert set(arrays) == set(layout.ESTIMATES), "layout.ESTIMATES names every array of the estimate"
    return Estimates(arrays, reduced.pairs, uncertainty.stability(masks, train_target, k=stability_k), summary)


def null_draws(masks, test_target, memorization, *, draws: int, seed: int, rows: int | None = None,
               device: str | None = None) -> dict[str, np.ndarray]:
    """The influence-free null whose means are each example's null value (layout.null_file), from
    the run's seed: by counts for 0/1 correctness (null.by_count: exact example by example, one pass
    over the masks per draw; stream (NULL, 1)), influence_free's joint draws for a soft target, whose
    null no count gives (stream (NULL), as the influence_free stage's: the same permutations)."""
    if test_target.dtype == bool:
        return null.by_count(masks, test_target, memorization, draws=draws, seed=seeds.derive(seed, seeds.NULL, 1),
                             rows=rows)
    return null.influence_free(masks, test_target, memorization, draws=draws, seed=seeds.derive(seed, seeds.NULL),
                               rows=rows, device=device)


def _split_half(masks, train_target, test_target, split_halves, strongest, seed: int) -> dict:
    """uncertainty.split_half's result, its influence statistics taken from the pass's halves
    (Rows.halves) instead of a pass of their own."""
    a, b = (uncertainty.estimates(masks[trials], train_target[trials], test_target[trials], strongest=half)
            for trials, half in zip(split_halves, strongest))
    return uncertainty.reliabilities(a, b, seed)


def margin_warning(cfg, summary: dict, n_train: int) -> str | None:
    """Where the target is the margin (logits) but the pair thresholds read as shares of trials."""
    if cfg.target != "margin" or max(abs(cfg.pair_memorization), abs(cfg.pair_influence)) > 1:
        return None
    return (f"estimate.pair_memorization = {cfg.pair_memorization} and pair_influence = {cfg.pair_influence} read as "
            f"shares of trials, but the margin is in logits: they mark {summary['high_memorization']} of {n_train} "
            f"training examples high and {summary['high_influence_pairs']} pairs; set them in logits (on digits 3.5 and "
            "1.7 mark as many as 0.25 and 0.15 do with 0/1 correctness)")


def said(summary: dict, cfg, shape: tuple[int, int]) -> list[str]:
    """What the estimate stage says of its summary (metrics/estimate.json) for a matrix of `shape`."""
    number = lambda v, spec=".3g": "n/a" if v is None else format(v, spec)  # noqa: E731
    lines = [f"influence {list(shape)} {cfg.dtype} of the {cfg.target} target; {summary['high_influence_pairs']} "
             f"high-influence pairs; split-half reliability of memorization "
             f"{number(summary['reliability']['memorization'], '.3f')}; LDS {number(summary['lds']['lds'], '.3f')}"]
    if found := summary.get("planted"):
        lines.append(f"planted: {found['flipped']} flipped labels, memorization AUC {number(found['auc'])}")
    return lines
