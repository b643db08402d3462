"""Which target serves which use, and how many trials each needs: 0/1 correctness against the
probability and the margin of the label (estimate.target), on planted truth, at growing trial counts.

    python benchmarks/targets.py                                   # digits, 5% flipped, 1000 trials
    python benchmarks/targets.py --dataset synthetic
    python benchmarks/targets.py --dataset mnist --root ../shared/data --train-size 10000 --test-size 2000 --count 256

Trains --count trials once (the default recipe of params.yaml's trials section, updated by --recipe)
on the dataset with --flip of the training labels moved to another class, keeping all three targets
(cached in --cache, so a rerun only measures), and holds the last --holdout of them out. For each
target and each count t of the grid, from the first t of the other trials:

  auc, precision   how memorization ranks the flipped examples (planted.found)
  r_all, r_high    split-half reliability of memorization over every defined example, and over the
                   high ones: 0/1 memorization >= 0.25 on all the trials (one set for every target)
  r_max            split-half reliability of each test example's max_influence (the ttest's statistic)
  spearman         rank agreement with the 0/1 memorization of all the trials
  lds              the counterfactual check of the influence matrix (counterfactual.lds) on the
                   held-out trials, predicting the target's own outcomes
  seconds          training t trials (this machine's seconds per trial) plus the estimate

Then, per target, the fewest trials of the grid whose r_all reaches (and whose AUC comes within
0.005 of) what 0/1 correctness reaches with all of them.
"""

import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
import typer
from scipy import stats

from longtail import devices, params
from longtail.data import datasets, planted
from longtail.estimate import counterfactual, influence
from longtail.train import trials
from longtail.estimate.halves import correlation, halves

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ("correct", "probability", "margin")


def train(dataset, root, train_size, test_size, count, flip, seed, device, recipe) -> dict:
    split = datasets.load(dataset, root=root, seed=seed)
    split = datasets.subset(datasets.subset(split, "train", train_size, seed, dataset), "test", test_size, seed, dataset)
    classes = int(split["y_train"].max()) + 1
    y, flipped = planted.flip_labels(split["y_train"], flip, classes, seed)
    cfg = params.section({"trials": params.read(ROOT / "params.yaml")["trials"] | {"count": count} | recipe},
                         "trials", params.Trials)
    masks = trials.sample_masks(count, len(y), cfg.subset_ratio, kind=cfg.mask, seed=seed)
    start = time.perf_counter()
    outcome = trials.run_trials(split["x_train"], y, split["x_test"], split["y_test"], masks, recipe=cfg.recipe(), arch=cfg.arch, init=cfg.init, seed=seed, device=devices.pick(device), models_per_step=cfg.models_per_step, compile=cfg.compile, select=cfg.select)
    return {"masks": masks, "flipped": flipped, "seconds_per_trial": (time.perf_counter() - start) / count,
            "train_correct": outcome.train_correct, "test_correct": outcome.test_correct,
            **{name: outcome.soft[name] for name in trials.SOFT}}


def arrays(run: dict, target: str, side: str) -> np.ndarray:
    return run[f"{side}_correct"] if target == "correct" else run[f"{side}_{target}"]


def measure(run: dict, target: str, t: int, held: np.ndarray, fit: np.ndarray, reference: np.ndarray,
            high: np.ndarray, seed: int) -> dict:
    masks, flipped = run["masks"], run["flipped"]
    rows = fit[:t]
    train, test = arrays(run, target, "train"), arrays(run, target, "test")
    start = time.perf_counter()
    mem = influence.memorization(masks[rows], train[rows])
    found = planted.found(mem, flipped)
    split = halves(t, seed)
    a, b = (influence.memorization(masks[rows[h]], train[rows[h]]) for h in split)
    max_a, max_b = (influence.strongest_influence(np.concatenate(list(influence.influence_blocks(
        masks[rows[h]], test[rows[h]]))))[0] for h in split)
    matrix = np.concatenate(list(influence.influence_blocks(masks[rows], test[rows])))
    lds = counterfactual.lds(counterfactual.predict(matrix, masks[held]), test[held])
    seconds = time.perf_counter() - start + t * run["seconds_per_trial"]
    defined = np.isfinite(mem) & np.isfinite(reference)
    return {"target": target, "trials": t, "auc": found["auc"], "precision": found["precision_at_k"],
            "r_all": correlation(a, b), "r_high": correlation(a[high], b[high]), "r_max": correlation(max_a, max_b),
            "spearman": float(stats.spearmanr(mem[defined], reference[defined]).statistic),
            "lds": lds["lds"], "lds_low": lds["low"], "lds_high": lds["high"], "seconds": seconds}


def fmt(value, spec=".3f"):
    return "n/a" if value is None else format(value, spec)


def main(
    dataset: str = typer.Option("digits"),
    root: Path = typer.Option(ROOT / "data/raw", help="folder of the datasets' folders (data.root)"),
    train_size: int = typer.Option(0, help="a stratified subset of the training set (0: all)"),
    test_size: int = typer.Option(0, help="of the test set (0: all)"),
    count: int = typer.Option(1000, min=8, help="trials trained (the grid stops at count minus the held-out ones)"),
    grid: str = typer.Option("8,16,32,64,128,256,512,1000", help="trial counts measured"),
    flip: float = typer.Option(0.05),
    holdout: float = typer.Option(0.1, help="share of the trials held out for the LDS"),
    seed: int = typer.Option(0),
    recipe: str = typer.Option("{}", help="JSON update of the trials section"),
    device: str = typer.Option("auto"),
    cache: Path = typer.Option(None, help="npz of the trained trials: read when it exists, written when not"),
    json_out: Path = typer.Option(None, "--json", help="write the table as JSON too"),
):
    if cache and cache.exists():
        with np.load(cache) as f:
            run = {name: f[name] for name in f.files}
        run["seconds_per_trial"] = float(run["seconds_per_trial"])
    else:
        run = train(dataset, root, train_size or None, test_size or None, count, flip, seed, device, json.loads(recipe))
        if cache:
            np.savez(cache, **run)
    total = len(run["masks"])
    held = counterfactual.holdout(total, holdout, seed)
    fit = np.setdiff1d(np.arange(total), held)
    reference = influence.memorization(run["masks"][fit], run["train_correct"][fit])
    high = reference >= 0.25
    counts = [t for t in map(int, grid.split(",")) if t <= len(fit)]
    if len(fit) not in counts:
        counts.append(len(fit))
    print(f"{dataset}: {run['masks'].shape[1]} train ({int(run['flipped'].sum())} flipped), "
          f"{run['test_correct'].shape[1]} test; {total} trials ({len(held)} held out for the LDS); "
          f"{run['seconds_per_trial']:.2f} s per trial; {high.sum()} high-memorization examples; "
          f"{platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, torch {torch.__version__}")
    print("| target | trials | AUC | precision | r_all | r_high | r_max | Spearman vs all-trial 0/1 | LDS [95% CI] | seconds |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rows = []
    for target in TARGETS:
        for t in counts:
            r = measure(run, target, t, held, fit, reference, high, seed)
            rows.append(r)
            print(f"| {target} | {t} | {fmt(r['auc'])} | {fmt(r['precision'])} | {fmt(r['r_all'])} | {fmt(r['r_high'])} | {fmt(r['r_max'])} | "
                  f"{fmt(r['spearman'])} | {fmt(r['lds'])} [{fmt(r['lds_low'])}, {fmt(r['lds_high'])}] | "
                  f"{r['seconds']:.1f} |", flush=True)
    keys = ("auc", "r_all", "r_high", "r_max")
    best = {k: next(r for r in rows if r["target"] == "correct" and r["trials"] == len(fit))[k] for k in keys}
    print(f"\n0/1 correctness with all {len(fit)} trials: " + ", ".join(f"{k} {fmt(best[k])}" for k in keys))
    print("| target | fewest trials with AUC within 0.005 of it | ... with r_all at least it | r_high | r_max |")
    print("| --- | --- | --- | --- | --- |")
    for target in TARGETS:
        mine = [r for r in rows if r["target"] == target]

        def fewest(key, slack=0.0):
            return next((r["trials"] for r in mine if r[key] is not None and best[key] is not None
                         and r[key] >= best[key] - slack), None) or "not reached"

        print(f"| {target} | {fewest('auc', 0.005)} | {fewest('r_all')} | {fewest('r_high')} | {fewest('r_max')} |")
    if json_out:
        json_out.write_text(json.dumps({"rows": rows, "reference": best}, indent=1))


if __name__ == "__main__":
    typer.run(main)
