"""reference: train the uncompressed reference model on the whole training set.

Its own stage, so that changing a compression param never retrains it."""

from pathlib import Path

import torch

from longtail import cli, models, params, recovery, training
from longtail.artifacts import load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    model_path: Path = Path("data/reference/model.pt"),
):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "reference", params.Reference), params.seed(p)
        device = training.pick_device(params.device(p))
        train, _ = load_prepared(prepared)
        x, y = training.tensors(train["x"], train["y"], device)
        num_classes = int(y.max()) + 1
        model = recovery.reference_model(cfg.arch, cfg.recipe(), x, y, num_classes, seed, cfg.init)
        accuracy = (training.predict(model, x) == y).float().mean().item()
        with outputs() as out:
            torch.save(models.checkpoint(model, cfg.arch, tuple(x.shape[1:]), num_classes), out.path(model_path))
        cli.say(f"reference {cfg.arch}: training accuracy {accuracy:.4f}")


if __name__ == "__main__":
    app()
