"""Is the added-value test of analysis.harm calibrated, and does it find planted truth? (README:
"Beyond cheap signals"; figures in BENCHMARKS.md.)

1. The workspace's run (`dvc repro` first): data/harm/signals.npz's cheap signals, the CIE and most
   shifted targets, and the estimate's influence-free draws. Draw k of each statistic stands in for
   the statistics and the other R - 1 draws are its null: the statistics are then influence-free by
   construction, so each p_k is a p-value of a true null. Rejections at alpha over k, per target.
2. Many worlds of the tests' kind (tests/test_harm.py's `world`): harm that follows difficulty, an
   influence statistic that grows with difficulty through noise alone, exchangeable with its draws
   (calibration), and the same with a real influence that the harm also follows (power).

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

from longtail import layout
from longtail.analysis import harm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_harm import world  # noqa: E402


def workspace(run: Path, alpha: float, folds: int, seed: int) -> dict:
    with np.load(run / layout.HARM / "signals.npz") as f:
        cheap = np.stack([f[k] for k in harm.CHEAP], 1)
    null = np.stack([np.load(run / layout.INFLUENCE / layout.null_file(s)) for s in layout.STATISTICS], 2)
    with np.load(run / layout.CIE / "masks.npz") as c, np.load(run / layout.PIE / "masks.npz") as p:
        targets = {"cie": c["cie"], "shifted": p["shifted"]}
    found = {}
    for name, target in targets.items():
        ps = []
        for k in range(len(null)):
            rest = np.delete(null, k, axis=0)
            ps.append(harm.added_value(cheap, null[k], rest, target, folds=folds, seed=seed)["p"])
        ps = [p for p in ps if p is not None]
        found[name] = {"harmed": int(target.sum()), "replicates": len(ps),
                       "rejected": float(np.mean(np.array(ps) <= alpha)) if ps else None,
                       "mean_p": float(np.mean(ps)) if ps else None}
        print(name, found[name], flush=True)
    return found


def worlds(count: int, alpha: float, folds: int, draws: int) -> dict:
    found = {}
    for planted in (0.0, 1.0):
        ps = [harm.added_value(*world(seed, planted=planted, draws=draws), folds=folds, seed=0)["p"]
              for seed in range(count)]
        found[f"planted_{planted:g}"] = {"worlds": count, "rejected": float(np.mean(np.array(ps) <= alpha)),
                                         "mean_p": float(np.mean(ps))}
        print(planted, found[f"planted_{planted:g}"], flush=True)
    return found


def main(run: str = typer.Option(".", help="a finished run's folder (`dvc repro` first); empty: skip it"),
         worlds_count: int = typer.Option(200, "--worlds"), draws: int = 19, alpha: float = 0.05, folds: int = 5,
         seed: int = 0, out: Path = typer.Option(None, help="write the results as JSON here")):
    start = time.perf_counter()
    results = {"alpha": alpha} | ({"workspace": workspace(Path(run), alpha, folds, seed)} if run else {})
    if worlds_count:
        results["worlds"] = worlds(worlds_count, alpha, folds, draws)
    results["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(results, indent=2))
    if out:
        out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    typer.run(main)
