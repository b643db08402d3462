"""reference_population: the reference side of the PIE populations (Hooker et al. 2019).

`pie.population` reference models, each trained as the reference stage trains (params `reference`)
with its own seed, seeds.member(seed, m), so that the members differ in initialisation and data
order. Its own stage, like reference, so that a compression experiment (`dvc exp run -S
compress.loss=focal`) compresses these models again but never retrains them.

Writes data/reference_population/models.pt: the list of the members' checkpoints, member m at
index m, in the format of data/reference/model.pt."""

from pathlib import Path

import torch
import typer

from longtail import cli, params, seeds
from longtail.train import curves, models, training
from longtail.artifacts import outputs
from longtail.stage import preamble
from longtail.train.reference import reference_model

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    models_path: Path = Path("data/reference_population/models.pt"),
    live: Path = typer.Option(Path("dvclive/reference_population"), help="DVCLive folder of the members' "
                                                                         "training curves (mean and std)"),
):
    with cli.errors():
        run = preamble(params_file, prepared)
        size = params.section(run.params, "pie", params.Population).population
        cfg = params.section(run.params, "reference", params.Reference)
        x, y, xt, yt = run.tensors()
        in_shape, num_classes = tuple(x.shape[1:]), int(y.max()) + 1
        curve = curves.Curves(lambda model: training.accuracy(model, xt, yt))
        checkpoints = []
        with cli.progress(size, f"reference population ({cfg.arch}, on {run.device})") as advance:
            for m in range(size):
                model = reference_model(cfg.arch, cfg.recipe(), x, y, num_classes, seeds.member(run.seed, m), cfg.init,
                                        on_epoch=curve.epoch("reference"))
                checkpoints.append(models.checkpoint(model, cfg.arch, in_shape, num_classes))
                advance()
        with outputs() as out:
            torch.save(checkpoints, out.path(models_path))
            curves.write(out.path(live), curve.table())


if __name__ == "__main__":
    app()
