"""Are the ttest comparisons calibrated? Fake "CIE" sets with no link to memorization, drawn from
the agreeing test examples of a pipeline run with probability rising with difficulty (as real CIEs
are hard examples), each tested against the other agreeing examples: a sound test rejects about a
share alpha of them. For each ttest.statistic, the raw Student t (the seed paper's test), a
Student t of each example's excess over its shuffled-mask null (the statistic recomputed with the
masks shuffled against the trials: no influence at all), and the difficulty-matched comparison
(longtail.matched), with the statistic's split-half reliability. Then planted truth: on the synthetic set, whose rare examples depend
on memorized siblings, trials, a reference, 90% magnitude pruning, and the matched test of its CIEs.

    python benchmarks/calibration.py                      # the workspace's run (after `dvc repro`), synthetic
    python benchmarks/calibration.py --draws 1000 --synthetic-trials 0
"""

import json
import math
import time
from pathlib import Path

import numpy as np
import typer
from scipy import stats as scipy_stats

from longtail import cie, data, devices, matched, params, training, trials, uncertainty
from longtail.recipes.compress import compress
from longtail.recipes.reference import reference_model
from longtail.artifacts import load_npy, load_npz
from longtail.stats import FILES, STATISTICS

ROOT = Path(__file__).resolve().parents[1]


def fake_sets(agree: np.ndarray, difficulty: np.ndarray, size: int, draws: int, seed: int) -> list[np.ndarray]:
    """`draws` bool masks of `size` agreeing examples each, drawn without replacement with
    probability proportional to 1 - trial accuracy + 0.01: hard examples first, nothing else."""
    rng = np.random.default_rng(seed)
    candidates = np.flatnonzero(agree)
    weight = 1 - difficulty[candidates] + 0.01
    sets = []
    for _ in range(draws):
        mask = np.zeros(len(agree), bool)
        mask[rng.choice(candidates, size, replace=False, p=weight / weight.sum())] = True
        sets.append(mask)
    return sets


def wilson(k: int, n: int) -> str:
    """k / n with its 95% Wilson interval."""
    z, p = 1.96, k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.3f} [{max(0, centre - half):.3f}, {min(1, centre + half):.3f}]"


def rejections(values, sets, agree, difficulty, alpha, width, permutations, seed) -> tuple[int, int]:
    """How many fake sets the raw Student t and the matched test reject at alpha."""
    raw = match = 0
    for n, group in enumerate(sets):
        rest = agree & ~group
        raw += bool(student_p(values, group, rest) <= alpha)
        p = matched.matched_test(values, group, rest, difficulty, width=width, draws=permutations, seed=seed + n)["p"]
        match += p is not None and p <= alpha
    return raw, match


def student_p(values, group, rest) -> float:
    a, b = values[group], values[rest]
    return float(scipy_stats.ttest_ind(a[np.isfinite(a)], b[np.isfinite(b)]).pvalue)


def shuffled_null(masks, train_correct, test_correct, seed: int, shuffles: int = 3) -> dict[str, np.ndarray]:
    """Each statistic with the masks shuffled against the trials (no influence at all), averaged over
    `shuffles` shuffles: the per-example null the README weighs against the matched comparison."""
    rng = np.random.default_rng(seed)
    runs = [uncertainty.estimates(masks[rng.permutation(len(masks))], train_correct, test_correct)
            for _ in range(shuffles)]
    return {name: np.mean([r[name] for r in runs], 0) for name in STATISTICS}


def calibration(label, values, null, reliability, agree, difficulty, *, draws, size, alpha, width, permutations, seed):
    """The calibration table of one run: per statistic, how often each comparison rejects fake sets."""
    sets = fake_sets(agree, difficulty, size, draws, seed)
    print(f"\n{label}: {len(agree)} test examples, {agree.sum()} agreeing; {draws} fake sets of {size}, drawn with "
          f"probability rising with difficulty (mean trial accuracy {np.mean([difficulty[s].mean() for s in sets]):.2f} "
          f"against {difficulty[agree].mean():.2f}); alpha {alpha}, strata {width} wide, {permutations} permutations\n")
    print("| statistic | split-half reliability | raw Student t rejects | Student t of the excess over the "
          "shuffled-mask null rejects | matched test rejects |")
    print("| --- | --- | --- | --- | --- |")
    for name in STATISTICS:
        raw, match = rejections(values[name], sets, agree, difficulty, alpha, width, permutations, seed)
        excess = values[name] - null[name]
        shuffled = sum(student_p(excess, s, agree & ~s) <= alpha for s in sets)
        r = reliability.get(name)
        print(f"| {name} | {'n/a' if r is None else f'{r:.3f}'} | {wilson(raw, draws)} | {wilson(shuffled, draws)} | "
              f"{wilson(match, draws)} |", flush=True)


def synthetic(count: int, seed: int, width: float, permutations: int, device: str, **fake) -> None:
    """The synthetic set through the estimator and 90% magnitude pruning: calibration on its agreeing
    examples, then the raw and the matched test of its CIEs (and CIE-U) for each statistic."""
    p = params.read(ROOT / "params.yaml")
    cfg = params.section(p, "trials", params.Trials)
    split = data.load("synthetic", seed=seed)
    dev = devices.pick(device)
    masks = trials.sample_masks(count, len(split["y_train"]), cfg.subset_ratio, kind=cfg.mask, seed=seed)
    outcome = trials.run_trials(split["x_train"], split["y_train"], split["x_test"], split["y_test"], masks,
                                arch=cfg.arch, init=cfg.init, seed=seed, device=dev, models_per_step=cfg.models_per_step,
                                compile=cfg.compile, select=cfg.select, **cfg.recipe())
    c, d = outcome.train_correct, outcome.test_correct
    values = uncertainty.estimates(masks, c, d)
    x, y = devices.tensors(split["x_train"], split["y_train"], dev)
    xt, _ = devices.tensors(split["x_test"], split["y_test"], dev)
    ref_cfg = params.section(p, "reference", params.Reference)
    reference = reference_model(ref_cfg.arch, ref_cfg.recipe(), x, y, 10, seed, ref_cfg.init)
    prune = params.section({"compress": p["compress"] | {"method": "magnitude", "sparsity": 0.9, "loss": "ce"}},
                           "compress", params.Compress)
    reference_pred = training.predict(reference, xt).cpu().numpy()
    [pruned] = compress(reference, None, prune, ref_cfg.recipe(), x, y, seed)
    masks_cie = cie.cie_masks(reference_pred, pruned.predict(xt).cpu().numpy(),
                              split["y_test"])
    difficulty, agree, rare = d.mean(0), ~masks_cie["cie"], split["rare_test"]
    reliability = uncertainty.split_half(masks, c, d, seed)
    calibration(f"synthetic, {count} trials", values, shuffled_null(masks, c, d, seed), reliability, agree, difficulty,
                width=width, permutations=permutations, seed=seed, **fake)
    print(f"\nsynthetic, 90% magnitude pruning: {masks_cie['cie'].sum()} CIEs, {(masks_cie['cie'] & rare).sum()} of "
          f"them rare (mean trial accuracy {difficulty[masks_cie['cie']].mean():.2f}, agreeing "
          f"{difficulty[agree].mean():.2f})\n")
    print("| group | statistic | raw difference | Student p | matched (unmatched) | difference at equal difficulty "
          "[95%] | matched p |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in STATISTICS:
        for kind in ("cie", "cie_u"):
            r = matched.matched_test(values[name], masks_cie[kind], agree, difficulty, width=width,
                                     draws=permutations, seed=seed)
            print(f"| {kind} | {name} | {r['raw_diff']:+.3g} | {student_p(values[name], masks_cie[kind], agree):.2g} | "
                  f"{r['n']} ({r['unmatched']}) | {r['diff']:+.3g} [{r['diff_low']:+.3g}, {r['diff_high']:+.3g}] | "
                  f"{r['p']:.3g} |")


def main(
    run: Path = typer.Option(ROOT, help="the repository whose data/ and metrics/ hold a finished run"),
    draws: int = typer.Option(200, min=10, help="fake sets per statistic"),
    size: int = typer.Option(10, min=2, help="examples per fake set"),
    alpha: float = typer.Option(0.05),
    width: float = typer.Option(0.02, help="ttest.strata_width"),
    permutations: int = typer.Option(1000, min=100, help="permutations of each matched test"),
    seed: int = typer.Option(0),
    synthetic_trials: int = typer.Option(1000, min=0, help="trials of the synthetic check (0 skips it)"),
    device: str = typer.Option("auto"),
):
    start = time.perf_counter()
    fake = {"draws": draws, "size": size, "alpha": alpha}
    masks = load_npy(run / "data/trials/masks.npy", dtype=bool, ndim=2)
    train_correct = load_npy(run / "data/trials/train_correct.npy", dtype=bool, ndim=2)
    test_correct = load_npy(run / "data/trials/test_correct.npy", dtype=bool, ndim=2)
    values = {name: load_npy(run / "data/influence" / FILES[name], ndim=1) for name in STATISTICS}
    agree = ~load_npz(run / "data/cie/masks.npz", ["cie"])["cie"]
    reliability = json.loads((run / "metrics/estimate.json").read_text())["reliability"]
    calibration(f"{run.name}, {len(masks)} trials", values, shuffled_null(masks, train_correct, test_correct, seed),
                reliability, agree, test_correct.mean(0), width=width, permutations=permutations, seed=seed, **fake)
    if synthetic_trials:
        synthetic(synthetic_trials, seed, width, permutations, device, **fake)
    print(f"\n{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    typer.run(main)
