"""reference: train the uncompressed reference model on the whole training set.

Its own stage, so that changing a compression param (or the compression code) never retrains it."""

from pathlib import Path

import torch

from longtail import cli, models, params, training
from longtail.artifacts import outputs
from longtail.preamble import preamble
from longtail.recipes.reference import reference_model

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    model_path: Path = Path("data/reference/model.pt"),
):
    with cli.errors():
        run = preamble(params_file, prepared)
        cfg = params.section(run.params, "reference", params.Reference)
        x, y, _, _ = run.tensors()
        num_classes = int(y.max()) + 1
        model = reference_model(cfg.arch, cfg.recipe(), x, y, num_classes, run.seed, cfg.init)
        accuracy = (training.predict(model, x) == y).float().mean().item()
        with outputs() as out:
            torch.save(models.checkpoint(model, cfg.arch, tuple(x.shape[1:]), num_classes), out.path(model_path))
        cli.say(f"reference {cfg.arch}: training accuracy {accuracy:.4f}")


if __name__ == "__main__":
    app()
