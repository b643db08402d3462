"""reference_population: the reference side of the PIE populations (Hooker et al. 2019).

`pie.population` reference models, each trained as the reference stage trains (params `reference`)
with its own seed, derived from (seed, POPULATIONS, m), so that the members differ in initialisation
and data order. Its own stage, like reference, so that a compression experiment
(`dvc exp run -S compress.loss=focal`) compresses these models again but never retrains them.

Writes data/reference_population/models.pt: the list of the members' checkpoints, member m at
index m, in the format of data/reference/model.pt."""

from pathlib import Path

import torch

from longtail import cli, models, params, recovery, training
from longtail.artifacts import load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    models_path: Path = Path("data/reference_population/models.pt"),
):
    with cli.errors():
        p = params.read(params_file)
        size = params.section(p, "pie", params.Pie).population
        cfg, seed = params.section(p, "reference", params.Reference), params.seed(p)
        device = training.pick_device(params.device(p))
        train, _ = load_prepared(prepared)
        x, y = training.tensors(train["x"], train["y"], device)
        in_shape, num_classes = tuple(x.shape[1:]), int(y.max()) + 1

        checkpoints = []
        with cli.progress(size, f"reference population ({cfg.arch}, on {device})") as advance:
            for member in range(size):
                member_seed = training.derive_seed(seed, training.POPULATIONS, member)
                model = recovery.reference_model(cfg.arch, cfg.recipe(), x, y, num_classes, member_seed, cfg.init)
                checkpoints.append(models.checkpoint(model, cfg.arch, in_shape, num_classes))
                advance()
        with outputs() as out:
            torch.save(checkpoints, out.path(models_path))


if __name__ == "__main__":
    app()
