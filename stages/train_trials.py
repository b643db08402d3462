"""train_trials: train up to `trials.count` models (fewer where trials.until is met first), each on a
random subset of the training set, and record which training and test examples each classifies
correctly and the probability and margin it gives each label (Feldman & Zhang 2020).

Finished chunks of trials are kept under <out-dir>/shards/ as they finish: run the stage again
after an interruption and it resumes. `--shard i --num-shards n` trains only every n-th chunk
(several processes, GPUs or machines share the work); a run without --shard trains whatever is
missing, then gathers the chunks into the arrays of docs/DESIGN.md.

`--arch`, `--count` and `--stream` train a second, independent set of trials (Feldman & Zhang's
consistency check across architectures): another network and number of trials than `trials`, the
same recipe, and masks, initialisations and data orders from another stream of the seed. Give it its
own --out-dir. Whether the trials fit their subsets is the fit stage's."""

import dataclasses
import shutil
from pathlib import Path

import typer

from longtail import cli, params
from longtail.train import curves, models, trials
from longtail.artifacts import outputs
from longtail.stage import preamble

app = cli.app(__doc__)
# The params keys these options replace: a stage that passes one does not depend on the key (stages/deps.py).
REPLACES = {"--arch": "trials.arch", "--count": "trials.count"}


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    out_dir: Path = Path("data/trials"),
    live: Path = typer.Option(Path("dvclive/trials"), help="DVCLive folder of the trials' training curves "
                                                           "(mean and std over the trials)"),
    shard: int = typer.Option(None, help="index of this shard, 0 <= shard < num-shards"),
    num_shards: int = typer.Option(1, help="how many processes share the trials"),
    arch: str = typer.Option(None, help="network of every trial, instead of trials.arch"),
    count: int = typer.Option(None, help="number of trials, instead of trials.count"),
    stream: int = typer.Option(0, help="0: the main trials; any other number: masks, initialisations and "
                                       "data orders independent of them (a second set of trials)"),
):
    with cli.errors(), cli.warnings_said():
        run = preamble(params_file, prepared)
        params.check_statistic(run.params)  # before hours of trials: their ttest would be refused
        cfg = params.section(run.params, "trials", params.Trials)
        if arch is not None:
            params.choose("--arch", arch, models.ARCHS)
        if count is not None:
            params.check_range("--count", count, 2)
        cfg = dataclasses.replace(cfg, arch=arch or cfg.arch, count=count or cfg.count)
        seed = trials.stream_seed(run.seed, stream)
        masks = trials.sample_masks(cfg.count, len(run.train["y"]), cfg.subset_ratio, kind=cfg.mask, seed=seed)
        what = f"trials ({cfg.arch} on {run.device}, {cfg.models_per_step} at a time"
        outcome = trials.run_trials(
            run.train["x"], run.train["y"], run.test["x"], run.test["y"], masks, arch=cfg.arch, seed=seed,
            device=run.device, init=cfg.init, models_per_step=cfg.models_per_step, compile=cfg.compile,
            select=cfg.select, store=out_dir / "shards", shard=shard, num_shards=num_shards,
            progress=lambda total, done: cli.progress(total, what + (f", {done} already done)" if done else ")")),
            until=cfg.rule(), recipe=cfg.recipe())
        if outcome is None:
            cli.say(f"shard {shard}/{num_shards} done in {out_dir / 'shards'}; run without --shard to gather them")
            return
        used = len(outcome.train_correct)
        stop = outcome.stop or {"until": None, "count": cfg.count, "trials": used}
        with outputs() as out:
            out.npy(out_dir / "masks.npy", masks[:used])
            out.npy(out_dir / "train_correct.npy", outcome.train_correct)
            out.npy(out_dir / "test_correct.npy", outcome.test_correct)
            for name, array in outcome.soft.items():
                out.npy(out_dir / f"{name}.npy", array)
            out.json(out_dir / "until.json", stop)
            curves.write(out.path(live), {"trials": curves.summary(outcome.curves)})
        shutil.rmtree(out_dir / "shards")  # gathered: the chunks were only for resuming
        cli.say(f"{used} trials of {cfg.arch} in {out_dir} ({outcome.trained} trained now, "
                f"{used - outcome.trained} from finished chunks; trained on {' and '.join(outcome.trained_on)}); "
                "how well they fit: the fit stage")
        if outcome.stop:
            cli.say(f"until {stop['until']}: {stop['stopped']} after {used} of {cfg.count} trials "
                    f"({cli.number(stop['value'], '.3f')})")
            if not outcome.stop["met"]:
                cli.warn(f"the budget of {cfg.count} trials ran out before trials.until ({stop['until']}) was met: "
                         "the estimates have not settled as asked; raise trials.count")
        if len(outcome.trained_on) > 1:
            cli.warn(f"the chunks were trained on {' and '.join(outcome.trained_on)}: the same trials of the same "
                     "recipe, equal in distribution but not bit for bit to a run on one of them")


if __name__ == "__main__":
    app()
