"""The reliability spread from grouped splits against free ones, on a run's trials.

    python benchmarks/spread.py                                   # the committed digits run, 40 seeds
    python benchmarks/spread.py --trials-dir ../mnist/data/trials --seeds 10

The estimate's spread (uncertainty.split_half_spread) takes its splits as halves of 32 groups of
trials (halves.grouped, 16 within each half of the estimate's own split), so that one product per
group serves every split and the estimate's halves; trials of one group are always on one side. This script measures what that costs the spread: for each seed, the standard
deviation of every split-half reliability over `--splits` grouped splits and over as many free
ones (halves.halves, each from its own seed: the spread before the groups), and then, over the seeds,
the mean of each and their ratio (sd^2 too: to second order in the split the groups take about
1/32 of its variance), with a standard error from the spread of the seeds. It also times both ways.
"""

import math
import time
from pathlib import Path

import numpy as np
import typer

from longtail import seeds
from longtail.estimate import halves, uncertainty
from longtail.layout import STATISTICS

ROOT = Path(__file__).resolve().parents[1]


def free_spread(masks, train_correct, test_correct, seed: int, splits: int) -> dict:
    """The spread over free random halves (seeds (seed, SPLITS, i)): each split's own passes."""
    rs = [uncertainty.split_half(masks, train_correct, test_correct, seeds.derive(seed, seeds.SPLITS, i))
          for i in range(splits)]
    return {name: float(np.std(np.array([r[name] for r in rs], dtype=float), ddof=1))  # NaN where r is undefined
            for name in ("memorization", *STATISTICS)}


def main(trials_dir: Path = ROOT / "data/trials", seeds_: int = typer.Option(40, "--seeds"), splits: int = 20):
    masks = np.load(trials_dir / "masks.npy")
    train_correct, test_correct = np.load(trials_dir / "train_correct.npy"), np.load(trials_dir / "test_correct.npy")
    print(f"{trials_dir}: {masks.shape[0]} trials, {masks.shape[1]} training and {test_correct.shape[1]} test "
          f"examples; {seeds_} seeds of {splits} splits each way")
    grouped, free, seconds = [], [], {"grouped": 0.0, "free": 0.0}
    for seed in range(seeds_):
        start = time.perf_counter()
        # as the estimate takes them: groups within its own split (halves.halves with the seed)
        spread = uncertainty.split_half_spread(masks, train_correct, test_correct, seed, splits,
                                               within=halves.halves(len(masks), seed))
        seconds["grouped"] += time.perf_counter() - start
        grouped.append({name: spread[name]["sd"] for name in ("memorization", *STATISTICS)})
        start = time.perf_counter()
        free.append(free_spread(masks, train_correct, test_correct, seed, splits))
        seconds["free"] += time.perf_counter() - start
    print(f"seconds per spread: grouped {seconds['grouped'] / seeds_:.2f}, free {seconds['free'] / seeds_:.2f}")
    print(f"{'statistic':18} {'sd grouped':>16} {'sd free':>16} {'ratio of sd':>14} {'ratio of sd^2':>14}")
    for name in ("memorization", *STATISTICS):
        g, f = (np.array([row[name] for row in rows], dtype=float) for rows in (grouped, free))
        if np.isnan(g).any() or np.isnan(f).any():
            print(f"{name:18} undefined in some split")
            continue
        cells = [f"{g.mean():.5f} ± {g.std(ddof=1) / math.sqrt(seeds_):.5f}",
                 f"{f.mean():.5f} ± {f.std(ddof=1) / math.sqrt(seeds_):.5f}"]
        for power in (1, 2):  # the ratio of means, its standard error by the delta method over the seeds
            a, b = g**power, f**power
            ratio = a.mean() / b.mean()
            se = ratio * math.sqrt(np.var(a / a.mean() - b / b.mean(), ddof=1) / seeds_)
            cells.append(f"{ratio:.3f} ± {se:.3f}")
        print(f"{name:18} {cells[0]:>16} {cells[1]:>16} {cells[2]:>14} {cells[3]:>14}")


if __name__ == "__main__":
    typer.run(main)
