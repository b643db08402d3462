"""compress: prune the reference model (`compress.method`), fine-tune it with `compress.loss`, and
write both models' test predictions."""

from pathlib import Path

import torch

from longtail import cli, compression, losses, models, params, training
from longtail.artifacts import load_npz, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    model_path: Path = Path("data/reference/model.pt"),
    out_dir: Path = Path("data/compress"),
    metrics: Path = Path("metrics/compress.json"),
):
    with cli.errors():
        p = params.read(params_file)
        cfg, seed = params.section(p, "compress", params.Compress), params.seed(p)
        device = training.pick_device(params.device(p))
        loss = losses.make(cfg.loss, focal_gamma=cfg.focal_gamma)
        train, test = load_npz(prepared / "train.npz", ["x", "y"]), load_npz(prepared / "test.npz", ["x", "y"])
        x, y = training.tensors(train["x"], train["y"], device)
        xt, yt = training.tensors(test["x"], test["y"], device)

        reference = models.load(model_path, device)
        reference_pred = training.predict(reference, xt)
        compressed = compression.magnitude_prune(models.load(model_path, device), cfg.sparsity)
        torch.manual_seed(training.derive_seed(seed, training.COMPRESS, 0))
        training.train(compressed, x, y, loss=loss, generator=training.generator(seed, training.COMPRESS, 1),
                       **cfg.recipe())
        compressed = compression.finalize(compressed)
        compressed_pred = training.predict(compressed, xt)

        summary = {
            "method": cfg.method,
            "loss": cfg.loss,
            "sparsity": cfg.sparsity,
            "weights_kept": compression.weights_kept(compressed),
            "reference_accuracy": (reference_pred == yt).float().mean().item(),
            "compressed_accuracy": (compressed_pred == yt).float().mean().item(),
        }
        with outputs() as out:
            out.npy(out_dir / "reference_pred.npy", reference_pred.cpu().numpy().astype("int64"))
            out.npy(out_dir / "compressed_pred.npy", compressed_pred.cpu().numpy().astype("int64"))
            out.json(metrics, summary)
        cli.say(f"{cfg.method} to sparsity {cfg.sparsity} + {cfg.loss}: accuracy "
                f"{summary['reference_accuracy']:.4f} -> {summary['compressed_accuracy']:.4f}")


if __name__ == "__main__":
    app()
