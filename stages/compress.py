"""compress: compress the reference model (`compress.method`), recover its accuracy with
`compress.loss`, and write both models' test predictions and their sizes.

A list in `compress.sparsity` (magnitude) sweeps it: every level is pruned from the reference and
fine-tuned; metrics/compress.json gets one entry per level, and the last level goes on to cie."""

from pathlib import Path

import typer

from longtail import cli, layout, params, stage
from longtail.train import curves, models, training
from longtail.artifacts import outputs
from longtail.compress.recipe import compress
from longtail.compress.measure import summarize

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    model_path: Path = Path(layout.REFERENCE),
    out_dir: Path = Path(layout.COMPRESS),
    metrics: Path = Path(layout.metrics("compress")),
    live: Path = typer.Option(Path(layout.live("compress")), help="DVCLive folder of the training curves"),
):
    with cli.errors():
        run = stage.start(params_file, prepared)
        cfg = params.section(run.params, "compress", params.Compress)
        # distill trains its student with the reference's recipe
        reference_recipe = params.section(run.params, "reference", params.Recipe).recipe()
        x, y, xt, yt = run.tensors()
        spec = models.saved(model_path)
        reference = models.restore(spec, run.device)
        curve = curves.Curves(lambda model: training.accuracy(model, xt, yt))
        compressed = compress(reference, spec, cfg, reference_recipe, x, y, run.seed, curve)
        summary, reference_pred, compressed_pred = summarize(reference, compressed, xt, yt, method=cfg.method,
                                                           loss=cfg.loss)
        with outputs() as out:
            out.npy(out_dir / "reference_pred.npy", reference_pred)
            out.npy(out_dir / "compressed_pred.npy", compressed_pred)
            out.json(metrics, summary)
            curves.write(out.path(live), curve.table())
        cli.say(f"{cfg.method} + {cfg.loss}: accuracy {summary['reference_accuracy']:.4f} -> "
                f"{summary['compressed_accuracy']:.4f}, FLOPs x{summary['flops_ratio']:.2f}, "
                f"nonzero parameters x{summary['parameters_ratio']:.2f}")


if __name__ == "__main__":
    app()
