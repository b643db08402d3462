"""pie: pruning identified exemplars (Hooker et al. 2019): the test examples where the modal labels
of the reference population and of a compressed population differ, and the classes whose recall
the compression changes more than it changes accuracy (Welch's t-test at `pie.alpha`).

One PIE mask per compressed level of data/populations/predictions.npz; `pie` is the last level
(the one that goes on, like compress's last level). Where data/prepared/test.npz holds `rare` (the
synthetic set's long tail), each level also says whether its PIEs over-represent the rare examples
(Fisher's exact test, one-sided)."""

from pathlib import Path

from longtail import cli, layout, params
from longtail.analysis import pie
from longtail.artifacts import load_npz, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    populations: Path = Path(layout.POPULATIONS),
    prepared: Path = Path(layout.PREPARED),
    out_dir: Path = Path(layout.PIE),
    metrics: Path = Path(layout.metrics("pie")),
):
    with cli.errors():
        alpha = params.section(params.read(params_file), "pie", params.Pie).alpha
        predictions = load_npz(populations / "predictions.npz", ["reference", "compressed", "levels", "labels"])
        _, test = load_prepared(prepared)
        masks, summary = pie.levels(predictions["reference"], predictions["compressed"], predictions["labels"],
                                    predictions["levels"], test["y"], alpha, test.get("rare"))
        with outputs() as out:
            out.npz(out_dir / "masks.npz", pie=masks[-1], pie_levels=masks)
            out.json(metrics, summary)
        for label, result in summary["levels"].items():
            rare = result.get("rare")
            cli.say(f"{label}: {result['pie']} PIEs of {summary['n_test']}, affected classes {result['affected_classes']}"
                    + (f"; rare examples are {rare['share']:.2f} of the PIEs, {rare['overall_share']:.2f} of the "
                       f"test set (Fisher p = {rare['fisher_p']:.3g})" if rare and result["pie"] else ""))


if __name__ == "__main__":
    app()
