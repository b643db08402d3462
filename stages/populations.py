"""populations: the two populations of pruning identified exemplars (Hooker et al. 2019): the
references of the reference_population stage, and from each one the compressed models of the
compress stage (params `compress`; one per level of a `compress.sparsity` list), member m compressed
with its own seed (compress.recipe.population).

Writes data/populations/predictions.npz: `reference` int64 [m, n_test], `compressed` int64
[L, m, n_test], `levels` float64 [L] (NaN for a method without one) and `labels` [L]."""

from pathlib import Path

import typer

from longtail import cli, layout, params, stage
from longtail.artifacts import outputs
from longtail.compress import measure, recipe
from longtail.train import curves, models, training

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    references: Path = Path(layout.REFERENCE_POPULATION),
    out_dir: Path = Path(layout.POPULATIONS),
    metrics: Path = Path(layout.metrics("populations")),
    live: Path = typer.Option(Path(layout.live("populations")), help="DVCLive folder of the members' curves"),
):
    with cli.errors():
        run = stage.start(params_file, prepared)
        cfg = params.section(run.params, "compress", params.Compress)
        reference_recipe = params.section(run.params, "reference", params.Recipe).recipe()
        x, y, xt, yt = run.tensors()
        curve = curves.Curves(lambda model: training.accuracy(model, xt, yt))
        specs = models.saved(references, "reference_population")
        with cli.progress(len(specs), f"compressed population ({cfg.method} + {cfg.loss}, on {run.device})") as advance:
            predicted = recipe.population(specs, cfg, reference_recipe, x, y, xt, run.seed, run.device, curve, advance)
        summary, arrays = measure.populations(*predicted, run.test["y"], method=cfg.method, loss=cfg.loss)
        with outputs() as out:
            out.npz(out_dir / "predictions.npz", **arrays)
            out.json(metrics, summary)
            curves.write(out.path(live), curve.table())
        cli.say(f"{len(specs)} references: accuracy {summary['reference']['accuracy_mean']:.4f}; compressed: "
                + ", ".join(f"{k} {v['accuracy_mean']:.4f}" for k, v in summary["levels"].items()))


if __name__ == "__main__":
    app()
