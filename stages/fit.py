"""fit: did the trials fit their subsets? metrics/trials.json: each trial's accuracy on its own
subset, on the training examples it left out and on the test set, averaged, the share of trials
that fit their subset to `trials.fit_threshold`, and where trials.until stopped them (`until`); a warning when too few do (then memorization
estimates are not meaningful). Its own stage, so that the threshold, a summary knob, retrains nothing."""

from pathlib import Path

from longtail import cli, layout, params
from longtail.train import fitted
from longtail.artifacts import load_json, load_trials, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    trials_dir: Path = Path(layout.TRIALS),
    metrics: Path = Path(layout.metrics("trials")),
):
    with cli.errors():
        threshold = params.section(params.read(params_file), "trials", params.Fit).fit_threshold
        t = load_trials(trials_dir)
        masks = t["masks"]
        summary = fitted.summary(masks, t["train_correct"], t["test_correct"], threshold) | {
            "until": load_json(trials_dir / "until.json")}
        with outputs() as out:
            out.json(metrics, summary)
        cli.say(f"{len(masks)} trials: subset accuracy {summary['subset_accuracy']:.4f} ({summary['fit_fraction']:.0%} "
                f"fit to {threshold}), held out {summary['held_out_accuracy']:.4f}, test {summary['test_accuracy']:.4f}")
        if warning := fitted.fit_warning(summary, threshold):
            cli.warn(f"memorization estimates are not meaningful: {warning}")


if __name__ == "__main__":
    app()
