"""Is the added-value test of analysis.harm calibrated, and does it find planted truth? (docs/harm.md:
"Does memorization predict the harm?"; figures in BENCHMARKS.md.)

1. The workspace's run (`dvc repro` first): data/harm/signals.npz's cheap signals and the CIE and
   most shifted targets, with the influence statistics replaced by noise of their own distribution.
   Each replicate draws 1 + `draws` fresh influence-free permutations of the run's trials
   (estimate.null.influence_free, as the estimate stage draws its null, with another seed): the
   first stands in for the statistics, the rest are its null. The statistics are then
   influence-free by construction, so each replicate's p is a p-value of a true null, and the
   replicates are independent. (Leaving one of the estimate's own R draws out in turn would not
   do: those p-values are the draws' ranks, k / R, so at alpha = 0.05 and R = 32 exactly one of
   the 32 is rejected, whatever the test does.)
2. Many worlds of the tests' kind (tests/test_harm.py's `world`): harm that follows difficulty, an
   influence statistic that grows with difficulty through noise alone, exchangeable with its draws
   (planted 0: calibration), and the same with a real influence of growing strength that the harm
   also follows (power).

Each rejection rate comes with its Clopper-Pearson 95% interval.

    python benchmarks/harm_calibration.py                 # both
    python benchmarks/harm_calibration.py --worlds 0       # the workspace's run only
    python benchmarks/harm_calibration.py --run ""         # the worlds only
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
import typer
from scipy import stats

from longtail import layout, params
from longtail.analysis import harm
from longtail.artifacts import load_npy, load_trials
from longtail.estimate import null

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_harm import world  # noqa: E402


def rejections(ps: list[float], alpha: float) -> dict:
    """The share of p-values at or below alpha, with its Clopper-Pearson 95% interval."""
    hits = int(np.sum(np.array(ps) <= alpha))
    interval = stats.binomtest(hits, len(ps)).proportion_ci()
    return {"rejected": hits / len(ps), "rejected_low": interval.low, "rejected_high": interval.high,
            "mean_p": float(np.mean(ps))}


def workspace(run: Path, replicates: int, draws: int, alpha: float, folds: int, seed: int) -> dict:
    target = params.section(params.read(run / "params.yaml"), "estimate", params.Estimate).target
    trials = load_trials(run / layout.TRIALS, target)
    memorization = load_npy(run / layout.INFLUENCE / "memorization.npy", ndim=1)
    with np.load(run / layout.HARM / "signals.npz") as f:
        cheap = np.stack([f[k] for k in harm.CHEAP], 1)
    with np.load(run / layout.CIE / "masks.npz") as c, np.load(run / layout.PIE / "masks.npz") as p:
        targets = {"cie": c["cie"], "shifted": p["shifted"]}
    ps = {name: [] for name in targets}
    for k in range(replicates):
        free = null.influence_free(trials["masks"], trials["test_target"], memorization, draws=1 + draws,
                                   seed=10_000 * (seed + 1) + k)
        noise = np.stack([free[s] for s in layout.STATISTICS], 2)  # [1 + draws, n, statistics]
        for name, harmed in targets.items():
            ps[name].append(harm.added_value(cheap, noise[0], noise[1:], harmed, folds=folds, seed=seed)["p"])
    found = {}
    for name, harmed in targets.items():
        kept = [p for p in ps[name] if p is not None]
        found[name] = {"harmed": int(harmed.sum()), "replicates": len(kept)} | (rejections(kept, alpha) if kept else {})
        print(name, found[name], flush=True)
    return found


def worlds(count: int, alpha: float, folds: int, draws: int, strengths: list[float]) -> dict:
    found = {}
    for planted in strengths:
        ps = [harm.added_value(*world(seed, planted=planted, draws=draws), folds=folds, seed=0)["p"]
              for seed in range(count)]
        found[f"planted_{planted:g}"] = {"worlds": count} | rejections(ps, alpha)
        print(planted, found[f"planted_{planted:g}"], flush=True)
    return found


def main(run: str = typer.Option(".", help="a finished run's folder (`dvc repro` first); empty: skip it"),
         worlds_count: int = typer.Option(200, "--worlds"), replicates: int = 200, draws: int = 19,
         alpha: float = 0.05, folds: int = 5,
         planted: list[float] = typer.Option([0.0, 0.25, 0.5, 1.0], help="the planted influence's strengths"),
         seed: int = 0, out: Path = typer.Option(None, help="write the results as JSON here")):
    start = time.perf_counter()
    results = {"alpha": alpha, "draws": draws} | (
        {"workspace": workspace(Path(run), replicates, draws, alpha, folds, seed)} if run else {})
    if worlds_count:
        results["worlds"] = worlds(worlds_count, alpha, folds, draws, planted)
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(results, indent=2))
    if out:
        out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    typer.run(main)
