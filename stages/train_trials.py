"""train_trials: train `trials.count` models, each on a random subset of the training set, and record
which training and test examples each classifies correctly (Feldman & Zhang 2020)."""

from pathlib import Path

from longtail import cli, params, training, trials
from longtail.artifacts import load_npz, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    out_dir: Path = Path("data/trials"),
    metrics: Path = Path("metrics/trials.json"),
):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "trials", params.Trials), params.seed(p)
        device = training.pick_device(params.device(p))
        train, test = load_npz(prepared / "train.npz", ["x", "y"]), load_npz(prepared / "test.npz", ["x", "y"])
        masks = trials.sample_masks(cfg.count, len(train["y"]), cfg.subset_ratio, kind=cfg.mask, seed=seed)
        with cli.progress(cfg.count, f"trials ({cfg.arch} on {device})") as advance:
            train_correct, test_correct = trials.run_trials(
                train["x"], train["y"], test["x"], test["y"], masks,
                arch=cfg.arch, seed=seed, device=device, on_trial=advance, **cfg.recipe()
            )
        summary = trials.summary(masks, train_correct, test_correct, cfg.fit_threshold)
        with outputs() as out:
            out.npy(out_dir / "masks.npy", masks)
            out.npy(out_dir / "train_correct.npy", train_correct)
            out.npy(out_dir / "test_correct.npy", test_correct)
            out.json(metrics, summary)
        cli.say(f"subset accuracy {summary['subset_accuracy']:.4f}, held out {summary['held_out_accuracy']:.4f}, "
                f"test {summary['test_accuracy']:.4f}")
        if summary["subset_accuracy"] < cfg.fit_threshold:
            cli.say(f"[yellow]warning:[/] trials fit their subsets to {summary['subset_accuracy']:.4f} on average, "
                    f"below trials.fit_threshold = {cfg.fit_threshold}: memorization shows only in models that "
                    "fit, so raise trials.epochs or trials.lr")


if __name__ == "__main__":
    app()
