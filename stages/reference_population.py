"""reference_population: the reference side of the PIE populations (Hooker et al. 2019):
`pie.population` references, each trained as the reference stage trains with its own seed
(train.reference.population). Its own stage, like reference, so that a compression experiment
(`dvc exp run -S compress.loss=focal`) compresses these models again but never retrains them.

Writes data/reference_population/models.pt: the members' checkpoints, member m at index m; and
epochs.npz: what each member said of the test examples after every epoch (train.reference.Epochs)."""

from pathlib import Path

import torch
import typer

from longtail import cli, layout, params, stage
from longtail.artifacts import outputs
from longtail.train import curves, reference, training

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path(layout.PREPARED),
    models_path: Path = Path(layout.REFERENCE_POPULATION),
    epochs_path: Path = Path(layout.REFERENCE_EPOCHS),
    live: Path = typer.Option(Path(layout.live("reference_population")), help="DVCLive folder of the members' "
                                                                             "training curves (mean and std)"),
):
    with cli.errors():
        run = stage.start(params_file, prepared)
        size = params.section(run.params, "pie", params.Population).population
        cfg = params.section(run.params, "reference", params.Reference)
        x, y, xt, yt = run.tensors()
        curve, epochs = curves.Curves(lambda model: training.accuracy(model, xt, yt)), reference.Epochs(xt, yt)
        with cli.progress(size, f"reference population ({cfg.arch}, on {run.device})") as advance:
            checkpoints = reference.population(size, cfg.arch, cfg.recipe(), x, y, int(y.max()) + 1, run.seed,
                                               cfg.init, curve, advance, epochs)
        with outputs() as out:
            torch.save(checkpoints, out.path(models_path))
            out.npz(epochs_path, **epochs.arrays())
            curves.write(out.path(live), curve.table())


if __name__ == "__main__":
    app()
