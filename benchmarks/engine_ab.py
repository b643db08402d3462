"""The trial engine of another commit against this checkout's, in interleaved rounds: what a change
to engine.py costs (issue 16: the per-epoch curves the steps now return must not slow the trials;
issue 28: nor may keeping each label's probability and margin, scores_stacked in place of predict_stacked).

    python benchmarks/engine_ab.py --before aec0b41                     # digits, K = 32, compiled
    python benchmarks/engine_ab.py --before aec0b41 --workload mnist --chunks 1 --epochs 2 --rounds 12

Both engines train the same models (same initialisations, subsets, data orders and recipe, those of
benchmarks/trials.py's workloads) through engine.train_stacked; `--before`'s engine.py is read
with `git show` and imported beside the current one (it must share today's training.py API). A
shared host's speed drifts within minutes, so each round times both, in alternating order, and
the ratio is taken within the round; the median over rounds, and the ratio of each engine's
fastest round (the host only adds time), are the result. The first call of each (compilation,
warm-up) is timed apart.
"""

import importlib.util
import inspect
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import typer
from trials import WORKLOADS, dataset, recipe_of, timed  # benchmarks/trials.py, beside this script

from longtail import LongtailError, cli, devices
from longtail.train import engine, training, trials

ROOT = Path(__file__).resolve().parents[1]


def engine_at(commit: str):
    """engine.py as it was at `commit`, imported as a module of its own. Before issue 29 it was
    src/longtail/engine.py and imported `longtail.training`, now longtail.train.training."""
    for path in ("src/longtail/train/engine.py", "src/longtail/engine.py"):
        shown = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, capture_output=True, text=True)
        if shown.returncode == 0:
            break
    else:
        raise LongtailError(f"--before {commit}: git cannot show its engine.py ({shown.stderr.strip()})")
    sys.modules.setdefault("longtail.training", training)
    spec = importlib.util.spec_from_loader(f"engine_{commit}", loader=None)
    module = importlib.util.module_from_spec(spec)
    exec(compile(shown.stdout, f"{commit}:{path}", "exec"), module.__dict__)
    sys.modules[spec.name] = module
    return module


def main(
    before: str = typer.Option(..., help="the git commit whose engine.py to compare with"),
    workload: str = typer.Option("digits", help=f"one of {', '.join(WORKLOADS)}"),
    models_per_step: int = typer.Option(32, min=1, help="K, the models trained together"),
    chunks: int = typer.Option(4, min=1, help="chunks of K trials per timing"),
    compile: str = typer.Option("default", help="trials.compile: off, default or max-autotune"),
    rounds: int = typer.Option(5, min=1, help="rounds of (before, now) in alternating order"),
    epochs: int = typer.Option(0, min=0, help="epochs instead of the workload's (0: the workload's): shorter rounds, "
                                              "more of them"),
    device: str = typer.Option("auto", help="auto, cpu or cuda"),
):
    with cli.errors():
        if workload not in WORKLOADS:
            raise LongtailError(f"unknown workload {workload!r}; choose one of: {', '.join(WORKLOADS)}")
        run({"before": engine_at(before), "now": engine}, before, workload, models_per_step, chunks, compile, rounds,
            epochs, devices.pick(device))


def run(engines, before, workload, k, chunks, compile, rounds, epochs, device):
    (arch, init, recipe), arrays = recipe_of(workload, epochs), dataset(workload)
    x, y = devices.tensors(arrays["x_train"], arrays["y_train"], device)
    classes = int(arrays["y_train"].max()) + 1
    masks = trials.sample_masks(k * chunks, len(y), 0.7, seed=0)

    def chunk(start):  # trials start .. start + K - 1, as trials.run_chunk sets them up
        ids = range(start, start + k)
        nets = trials.init_models(arch, tuple(x.shape[1:]), classes, ids, 0, device, init)
        subsets = [torch.from_numpy(np.flatnonzero(masks[i])).to(device) for i in ids]
        return dict(models=nets, x=x, y=y, subsets=subsets, generators=[trials.data_order(0, i) for i in ids],
                    compile=compile)

    def stacked(eng, setup):  # an engine before issue 29 takes the recipe's knobs one by one
        if "recipe" in inspect.signature(eng.train_stacked).parameters:
            return eng.train_stacked(**setup, recipe=recipe)
        return eng.train_stacked(**setup, **recipe.settings())

    def train(eng):  # `chunks` chunks of K trials, each evaluated on the training set as run_chunk does:
        for start in range(0, k * chunks, k):  # labels only before the soft targets, every score since
            setup = chunk(start)
            state, _ = stacked(eng, setup)
            if hasattr(eng, "scores_stacked"):
                eng.scores_stacked(setup["models"], state, x, y)
            else:
                eng.predict_stacked(setup["models"], state, x)

    print(f"# {time.strftime('%Y-%m-%d')}, {device}, torch {torch.__version__}; {workload}, K={k}, "
          f"{chunks} chunks, {recipe.epochs} epochs, compile={compile}; before = {before}")
    for name, eng in engines.items():
        seconds = timed(device, stacked, eng, chunk(0))[1]
        print(f"{name}: first chunk (compilation, warm-up) {seconds:.1f} s")
    ratios, best = [], dict.fromkeys(engines, float("inf"))
    for r in range(rounds):
        order = list(engines) if r % 2 == 0 else list(engines)[::-1]
        seconds = {name: timed(device, train, engines[name])[1] for name in order}
        best = {name: min(best[name], seconds[name]) for name in engines}
        ratios.append(seconds["now"] / seconds["before"])
        print(f"round {r + 1}: before {seconds['before']:.2f} s, now {seconds['now']:.2f} s, "
              f"now / before {ratios[-1]:.3f}")
    # The host only ever adds time: the fastest round of each is its cost with the least noise.
    print(f"now / before over {rounds} rounds: median {np.median(ratios):.3f} (range {min(ratios):.3f} to "
          f"{max(ratios):.3f}); fastest rounds {best['before']:.2f} s and {best['now']:.2f} s, "
          f"ratio {best['now'] / best['before']:.3f}")


if __name__ == "__main__":
    typer.run(main)
