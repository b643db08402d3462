"""train_trials: up to `trials.count` models, each trained on a random subset of the training set, and what each says of
every example (Feldman & Zhang 2020; longtail.train.trials). A rerun resumes from <out-dir>/shards/; `--shard i --num-shards n`
trains every n-th chunk, a run without --shard gathers them; `--arch --count --stream`: a second, independent set of trials."""

import shutil
from pathlib import Path

import typer

from longtail import cli, layout, params, stage
from longtail.artifacts import outputs
from longtail.train import curves, trials

app = cli.app(__doc__)
# The params keys these options replace: a stage that passes one does not depend on the key (longtail deps).
REPLACES = {"--arch": "trials.arch", "--count": "trials.count"}


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    out_dir: Path = Path(layout.TRIALS),
    live: Path = typer.Option(Path(layout.live("trials")), help="DVCLive folder of the trials' curves (mean, std)"),
    shard: int = typer.Option(None, help="index of this shard, 0 <= shard < num-shards"),
    num_shards: int = typer.Option(1, help="how many processes share the trials"),
    arch: str = typer.Option(None, help="network of every trial, instead of trials.arch"),
    count: int = typer.Option(None, help="number of trials, instead of trials.count"),
    stream: int = typer.Option(0, help="0: the main trials; another: a second, independent set of trials"),
):
    with cli.errors(), cli.warnings_said():
        run = stage.start(params_file, prepared)
        params.check_statistic(run.params)  # before hours of trials: their ttest would be refused
        cfg = params.section(run.params, "trials", params.Trials).replaced(arch, count)
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
            return cli.say(f"shard {shard}/{num_shards} done in {out_dir / 'shards'}; run without --shard to gather them")
        with outputs() as out:
            for name, array in trials.arrays(outcome, masks).items():
                out.npy(out_dir / f"{name}.npy", array)
            out.json(out_dir / "until.json", trials.until(outcome, cfg.count))
            curves.write(out.path(live), {"trials": curves.summary(outcome.curves)})
        shutil.rmtree(out_dir / "shards")  # gathered: the chunks were only for resuming
        for line in trials.said(outcome, cfg.count, cfg.arch, out_dir):
            cli.say(line)
        for caution in trials.cautions(outcome, cfg.count):
            cli.warn(caution)
        cli.outside_dvc(layout.writer(out_dir / "masks.npy"))


if __name__ == "__main__":
    app()
