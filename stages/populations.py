"""populations: the two populations of pruning identified exemplars (Hooker et al. 2019).

The reference models of the reference_population stage, and from each one the compressed models of
the compress stage (params `compress`; one per level of a `compress.sparsity` list). Member m is
compressed with its own seed, derived from (seed, POPULATIONS, m), the seed it was trained with, so
that the members differ in initialisation, data order and compression.

Writes data/populations/predictions.npz: `reference` int64 [m, n_test], `compressed` int64
[L, m, n_test], `levels` float64 [L] (the sparsity of each level, NaN for a method without one) and
`labels` [L] (the keys of compress's sweep: sparsity_0_9, or the method)."""

from pathlib import Path

import numpy as np

from longtail import cli, models, params, training
from longtail.artifacts import load_prepared, outputs
from longtail.recovery import compressed_models, label, predict

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
):
    with cli.errors():
        p = params.read(params_file)
        reference_recipe = params.section(p, "reference", params.Reference).recipe()
        cfg, seed = params.section(p, "compress", params.Compress), params.seed(p)
        device = training.pick_device(params.device(p))
        train, test = load_prepared(prepared)
        x, y = training.tensors(train["x"], train["y"], device)
        xt, _ = training.tensors(test["x"], test["y"], device)
        specs = models.saved(references, "reference_population")
        size = len(specs)

        reference_pred, compressed_pred = [], []  # [m, n], [m, L, n]
        with cli.progress(size, f"compressed population ({cfg.method} + {cfg.loss}, on {device})") as advance:
            for member, spec in enumerate(specs):
                member_seed = training.derive_seed(seed, training.POPULATIONS, member)
                reference = models.restore(spec, device)
                reference_pred.append(training.predict(reference, xt).cpu().numpy())
                levels, preds = [], []
                for level, measured, evaluated in compressed_models(reference, spec, cfg, reference_recipe,
                                                                    x, y, member_seed):
                    preds.append(predict(measured, evaluated, xt).cpu().numpy())
                    levels.append(level)
                compressed_pred.append(preds)
                advance()

        reference_pred = np.stack(reference_pred).astype(np.int64)
        compressed_pred = np.stack(compressed_pred).swapaxes(0, 1).astype(np.int64)
        labels = [label(cfg.method, level) for level in levels]
        summary = {"population": size, "method": cfg.method, "loss": cfg.loss,
                   "reference": accuracies(reference_pred, test["y"]),
                   "levels": {name: {"level": level, **accuracies(pred, test["y"])}
                              for name, level, pred in zip(labels, levels, compressed_pred)}}
        with outputs() as out:
            out.npz(out_dir / "predictions.npz", reference=reference_pred, compressed=compressed_pred,
                    levels=np.array([np.nan if v is None else v for v in levels], np.float64), labels=np.array(labels))
            out.json(metrics, summary)
        cli.say(f"{size} references: accuracy {summary['reference']['accuracy_mean']:.4f}; compressed: "
                + ", ".join(f"{k} {v['accuracy_mean']:.4f}" for k, v in summary["levels"].items()))


if __name__ == "__main__":
    app()
