"""pie: pruning identified exemplars (Hooker et al. 2019): the test examples where the modal labels
of the reference population and of a compressed population differ, and the classes whose recall
the compression changes more than it changes accuracy (Welch's t-test at `pie.alpha`).

One PIE mask per compressed level of data/populations/predictions.npz; `pie` is the last level
(the one that goes on, like compress's last level). Where data/prepared/test.npz holds `rare` (the
synthetic set's long tail), each level also says whether its PIEs over-represent the rare examples
(Fisher's exact test, one-sided)."""

from pathlib import Path

import numpy as np

from longtail import LongtailError, cli, params
from longtail.analysis import pie, stats
from longtail.artifacts import load_npz, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    populations: Path = Path("data/populations"),
    prepared: Path = Path("data/prepared"),
    out_dir: Path = Path("data/pie"),
    metrics: Path = Path("metrics/pie.json"),
):
    with cli.errors():
        alpha = params.section(params.read(params_file), "pie", params.Pie).alpha
        predictions = load_npz(populations / "predictions.npz", ["reference", "compressed", "levels", "labels"])
        _, test = load_prepared(prepared)
        reference, compressed, y = predictions["reference"], predictions["compressed"], test["y"]
        if compressed.ndim != 3 or len(compressed) == 0 or len(predictions["labels"]) != len(compressed):
            raise LongtailError(f"{populations / 'predictions.npz'}: `compressed` must be [levels, models, "
                                f"examples] with one label per level, found {compressed.shape} and "
                                f"{len(predictions['labels'])} labels; rerun the populations stage")
        num_classes = int(max(y.max(), reference.max(), compressed.max())) + 1

        masks, levels = [], {}
        for label, level, population in zip(predictions["labels"], predictions["levels"], compressed):
            mask = pie.pie_mask(reference, population, num_classes)
            tests = pie.recall_tests(reference, population, y, num_classes, alpha)
            levels[str(label)] = {"level": level, "pie": int(mask.sum()),
                                  "reference_accuracy": (reference == y).mean(),
                                  "compressed_accuracy": (population == y).mean(),
                                  "affected_classes": tests["affected"], "recall": tests["classes"]}
            if "rare" in test:
                levels[str(label)]["rare"] = stats.over_representation(mask, test["rare"].astype(bool))
            masks.append(mask)
        summary = {"population": len(reference), "alpha": alpha, "n_test": len(y), "pie": int(masks[-1].sum()),
                   "levels": levels}
        with outputs() as out:
            out.npz(out_dir / "masks.npz", pie=masks[-1], pie_levels=np.stack(masks))
            out.json(metrics, summary)
        for label, result in levels.items():
            rare = result.get("rare")
            cli.say(f"{label}: {result['pie']} PIEs of {len(y)}, affected classes {result['affected_classes']}"
                    + (f"; rare examples are {rare['share']:.2f} of the PIEs, {rare['overall_share']:.2f} of the "
                       f"test set (Fisher p = {rare['fisher_p']:.3g})" if rare and result["pie"] else ""))


if __name__ == "__main__":
    app()
