"""train_trials: train `trials.count` models, each on a random subset of the training set, and record
which training and test examples each classifies correctly (Feldman & Zhang 2020).

Finished chunks of trials are kept under data/trials/shards/ as they finish: run the stage again
after an interruption and it resumes. `--shard i --num-shards n` trains only every n-th chunk
(several processes, GPUs or machines share the work); a run without --shard trains whatever is
missing, then gathers the chunks into the arrays of DESIGN.md.

`--arch`, `--count` and `--stream` train a second, independent set of trials (Feldman & Zhang's
consistency check across architectures): another network and number of trials than `trials`, the
same recipe, and masks, initialisations and data orders from another stream of the seed. Give it its
own --out-dir and --metrics."""

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import typer

from longtail import LongtailError, cli, fit, models, params, training, trials
from longtail.artifacts import load_prepared, outputs

app = cli.app(__doc__)


def finished(chunk: Path, rows: int, n_train: int, n_test: int) -> bool:
    """Whether a chunk of an earlier run can be used. One that cannot be read (a crash of the disk,
    not of this stage: chunks are written whole) is moved aside, said in one line, and trained again."""
    if not chunk.exists():
        return False
    try:
        with np.load(chunk) as f:
            parts = {key: f[key] for key in ("train_correct", "test_correct")}
        for key, n in (("train_correct", n_train), ("test_correct", n_test)):
            if parts[key].dtype != bool or parts[key].shape != (rows, n):
                raise ValueError(f"{key} is {parts[key].dtype} {parts[key].shape}, expected bool {(rows, n)}")
    except Exception as e:  # noqa: BLE001 -- whatever makes it unreadable, the cure is to train it again
        aside = chunk.with_name(chunk.name + ".corrupt")
        os.replace(chunk, aside)
        cli.warn(f"{chunk} cannot be read ({type(e).__name__}: {e}); moved to {aside.name}, training it again")
        return False
    return True


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    out_dir: Path = Path("data/trials"),
    metrics: Path = Path("metrics/trials.json"),
    shard: int = typer.Option(None, help="index of this shard, 0 <= shard < num-shards"),
    num_shards: int = typer.Option(1, help="how many processes share the trials"),
    arch: str = typer.Option(None, help="network of every trial, instead of trials.arch"),
    count: int = typer.Option(None, help="number of trials, instead of trials.count"),
    stream: int = typer.Option(0, help="0: the main trials; any other number: masks, initialisations and "
                                       "data orders independent of them (a second set of trials)"),
):
    with cli.errors():
        if shard is not None and not 0 <= shard < num_shards:
            raise LongtailError(f"--shard {shard} must satisfy 0 <= shard < --num-shards ({num_shards})")
        p = params.read(params_file)
        params.check_statistic(p)  # before hours of trials: their ttest would be refused
        cfg, seed = params.section(p, "trials", params.Trials), trials.stream_seed(params.seed(p), stream)
        if arch is not None:
            params.choose("--arch", arch, models.ARCHS)
        if count is not None:
            params.check_range("--count", count, 2)
        cfg = dataclasses.replace(cfg, arch=arch or cfg.arch, count=count or cfg.count)
        device = training.pick_device(params.device(p))
        train, test = load_prepared(prepared)
        masks = trials.sample_masks(cfg.count, len(train["y"]), cfg.subset_ratio, kind=cfg.mask, seed=seed)
        chunks = trials.chunks(cfg.count, cfg.models_per_step)
        key = trials.fingerprint(masks, train["x"], train["y"], test["x"], test["y"], arch=cfg.arch, init=cfg.init,
                                 seed=seed, stream=stream, models_per_step=cfg.models_per_step, compile=cfg.compile,
                                 select=cfg.select, device=device.type, **cfg.recipe())
        shard_dir = out_dir / "shards" / key
        path = {c: shard_dir / f"chunk-{c:05d}.npz" for c in range(len(chunks))}
        mine = [c for c in path if shard is None or c % num_shards == shard]
        todo = [c for c in mine if not finished(path[c], len(chunks[c]), len(train["y"]), len(test["y"]))]

        if todo:
            x, y = training.tensors(train["x"], train["y"], device)
            xt, yt = training.tensors(test["x"], test["y"], device)
            done = sum(len(chunks[c]) for c in mine) - sum(len(chunks[c]) for c in todo)
            what = f"trials ({cfg.arch} on {device}, {cfg.models_per_step} at a time" + (
                f", {done} already done)" if done else ")")
            with cli.progress(sum(len(chunks[c]) for c in todo), what) as advance:
                for c in todo:
                    train_correct, test_correct = trials.run_chunk(
                        x, y, xt, yt, masks, chunks[c], arch=cfg.arch, seed=seed, init=cfg.init,
                        pad_to=cfg.models_per_step, compile=cfg.compile, select=cfg.select, **cfg.recipe())
                    with outputs() as out:  # one finished chunk at a time, never half a file
                        out.npz(path[c], train_correct=train_correct, test_correct=test_correct)
                    advance(len(chunks[c]))
        if shard is not None:
            cli.say(f"shard {shard}/{num_shards}: {len(mine)} chunks in {shard_dir}; "
                    "run without --shard to gather them")
            return

        parts = [np.load(path[c]) for c in range(len(chunks))]
        train_correct = np.concatenate([part["train_correct"] for part in parts])
        test_correct = np.concatenate([part["test_correct"] for part in parts])
        summary = trials.summary(masks, train_correct, test_correct, cfg.fit_threshold)
        with outputs() as out:
            out.npy(out_dir / "masks.npy", masks)
            out.npy(out_dir / "train_correct.npy", train_correct)
            out.npy(out_dir / "test_correct.npy", test_correct)
            out.json(metrics, summary)
        shutil.rmtree(out_dir / "shards")  # gathered: the chunks were only for resuming
        cli.say(f"subset accuracy {summary['subset_accuracy']:.4f}, held out {summary['held_out_accuracy']:.4f}, "
                f"test {summary['test_accuracy']:.4f}")
        if warning := fit.fit_warning(summary, cfg.fit_threshold):
            cli.warn(f"memorization estimates are not meaningful: {warning}")


if __name__ == "__main__":
    app()
