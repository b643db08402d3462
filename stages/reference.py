"""reference: train the uncompressed reference model on the whole training set.

Its own stage, so that changing a compression param (or the compression code) never retrains it."""

from pathlib import Path

import torch
import typer

from longtail import cli, layout, params, stage
from longtail.train import curves, models, training
from longtail.artifacts import outputs
from longtail.train.reference import reference_model

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    model_path: Path = Path(layout.REFERENCE),
    live: Path = typer.Option(Path(layout.live("reference")), help="DVCLive folder of the training curves"),
):
    with cli.errors():
        run = stage.start(params_file, prepared)
        cfg = params.section(run.params, "reference", params.Reference)
        x, y, xt, yt = run.tensors()
        num_classes = int(y.max()) + 1
        curve = curves.Curves(lambda model: training.accuracy(model, xt, yt))
        model = reference_model(cfg.arch, cfg.recipe(), x, y, num_classes, run.seed, cfg.init,
                                on_epoch=curve.epoch("reference"))
        accuracy = training.accuracy(model, x, y)
        with outputs() as out:
            torch.save(models.checkpoint(model, cfg.arch, tuple(x.shape[1:]), num_classes), out.path(model_path))
            curves.write(out.path(live), curve.table())
        cli.say(f"reference {cfg.arch}: training accuracy {accuracy:.4f}")


if __name__ == "__main__":
    app()
