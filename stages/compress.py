"""compress: compress the reference model (`compress.method`), recover its accuracy with
`compress.loss`, and write both models' test predictions and their sizes.

A list in `compress.sparsity` (magnitude) sweeps it: every level is pruned from the reference and
fine-tuned; metrics/compress.json gets one entry per level, and the last level goes on to cie."""

from pathlib import Path

from longtail import cie, cli, compression, models, params, training
from longtail.artifacts import load_prepared, outputs
from longtail.recovery import compressed_models, label, predict

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
        reference_recipe = params.section(p, "reference", params.Reference).recipe()
        device = training.pick_device(params.device(p))
        train, test = load_prepared(prepared)
        x, y = training.tensors(train["x"], train["y"], device)
        xt, yt = training.tensors(test["x"], test["y"], device)
        in_shape = tuple(x.shape[1:])

        spec = models.saved(model_path)
        reference = models.restore(spec, device)
        reference_pred = training.predict(reference, xt)
        summary = {"method": cfg.method, "loss": cfg.loss,
                   "reference_accuracy": (reference_pred == yt).float().mean().item(),
                   "reference": compression.footprint(reference, in_shape)}
        sweep = {}
        for level, measured, evaluated in compressed_models(reference, spec, cfg, reference_recipe, x, y, seed):
            compressed_pred = predict(measured, evaluated, xt)
            size = compression.footprint(measured, in_shape)
            if evaluated is not measured:
                size["size_bytes"] = compression.size_bytes(evaluated)
            result = {
                "compressed_accuracy": (compressed_pred == yt).float().mean().item(),
                "compressed": size,
                "sparsity": 1 - compression.weights_kept(measured),
                "flops_ratio": size["flops"] / summary["reference"]["flops"],
                "parameters_ratio": size["nonzero_parameters"] / summary["reference"]["nonzero_parameters"],
                "size_ratio": size["size_bytes"] / summary["reference"]["size_bytes"],
            }
            if level is not None and len(cfg.sparsities) > 1:
                masks = cie.cie_masks(reference_pred.cpu().numpy(), compressed_pred.cpu().numpy(), yt.cpu().numpy())
                sweep[label(cfg.method, level)] = {"compressed_accuracy": result["compressed_accuracy"],
                                                   "sparsity": result["sparsity"],
                                                   **{k: int(v.sum()) for k, v in masks.items()}}
        summary |= result | ({"sweep": sweep} if sweep else {})
        with outputs() as out:
            out.npy(out_dir / "reference_pred.npy", reference_pred.cpu().numpy().astype("int64"))
            out.npy(out_dir / "compressed_pred.npy", compressed_pred.cpu().numpy().astype("int64"))
            out.json(metrics, summary)
        cli.say(f"{cfg.method} + {cfg.loss}: accuracy {summary['reference_accuracy']:.4f} -> "
                f"{summary['compressed_accuracy']:.4f}, FLOPs x{summary['flops_ratio']:.2f}, "
                f"nonzero parameters x{summary['parameters_ratio']:.2f}")


if __name__ == "__main__":
    app()
