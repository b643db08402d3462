"""populations: the two populations of pruning identified exemplars (Hooker et al. 2019).

The reference models of the reference_population stage, and from each one the compressed models of
the compress stage (params `compress`; one per level of a `compress.sparsity` list). Member m is
compressed with its own seed, seeds.member(seed, m), the seed it was trained with, so that the
members differ in initialisation, data order and compression.

Writes data/populations/predictions.npz: `reference` int64 [m, n_test], `compressed` int64
[L, m, n_test], `levels` float64 [L] (the sparsity of each level, NaN for a method without one) and
`labels` [L] (the keys of compress's sweep: sparsity_0_9, or the method)."""

from pathlib import Path

import numpy as np
import typer

from longtail import cli, params, seeds
from longtail.train import curves, models, training
from longtail.artifacts import outputs
from longtail.stage import preamble
from longtail.compress.recipe import compress

app = cli.app(__doc__)


def accuracies(predictions: np.ndarray, y: np.ndarray) -> dict:
    """Test accuracy of each member of a population [m, n], with its mean and sample std."""
    accuracy = (predictions == y).mean(axis=-1)
    return {"accuracy_mean": accuracy.mean(), "accuracy_std": accuracy.std(ddof=1), "accuracies": accuracy.tolist()}


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    references: Path = Path("data/reference_population/models.pt"),
    out_dir: Path = Path("data/populations"),
    metrics: Path = Path("metrics/populations.json"),
    live: Path = typer.Option(Path("dvclive/populations"), help="DVCLive folder of the members' training "
                                                                "curves (mean and std)"),
):
    with cli.errors():
        run = preamble(params_file, prepared)
        cfg = params.section(run.params, "compress", params.Compress)
        reference_recipe = params.section(run.params, "reference", params.Recipe).recipe()
        x, y, xt, yt = run.tensors()
        curve = curves.Curves(lambda model: training.accuracy(model, xt, yt))
        specs = models.saved(references, "reference_population")
        reference_pred, compressed_pred = [], []  # [m, n], [m, L, n]
        with cli.progress(len(specs), f"compressed population ({cfg.method} + {cfg.loss}, on {run.device})") as advance:
            for m, spec in enumerate(specs):
                reference = models.restore(spec, run.device)
                reference_pred.append(training.predict(reference, xt).cpu().numpy())
                compressed = compress(reference, spec, cfg, reference_recipe, x, y, seeds.member(run.seed, m), curve)
                compressed_pred.append([c.predict(xt).cpu().numpy() for c in compressed])
                advance()
        reference_pred = np.stack(reference_pred).astype(np.int64)
        compressed_pred = np.stack(compressed_pred).swapaxes(0, 1).astype(np.int64)
        levels = [c.level for c in compressed]  # every member's compression has the same levels
        summary = {"population": len(specs), "method": cfg.method, "loss": cfg.loss,
                   "reference": accuracies(reference_pred, run.test["y"]),
                   "levels": {c.label: {"level": c.level, **accuracies(pred, run.test["y"])}
                              for c, pred in zip(compressed, compressed_pred)}}
        with outputs() as out:
            out.npz(out_dir / "predictions.npz", reference=reference_pred, compressed=compressed_pred,
                    levels=np.array([np.nan if v is None else v for v in levels], np.float64),
                    labels=np.array([c.label for c in compressed]))
            out.json(metrics, summary)
            curves.write(out.path(live), curve.table())
        cli.say(f"{len(specs)} references: accuracy {summary['reference']['accuracy_mean']:.4f}; compressed: "
                + ", ".join(f"{k} {v['accuracy_mean']:.4f}" for k, v in summary["levels"].items()))


if __name__ == "__main__":
    app()
