"""compress: compress the reference model (`compress.method`), recover its accuracy with
`compress.loss`, and write both models' test predictions and their sizes.

A list in `compress.sparsity` (magnitude) sweeps it: every level is pruned from the reference and
fine-tuned; metrics/compress.json gets one entry per level, and the last level goes on to cie."""

import copy
from pathlib import Path

import torch

from longtail import cie, cli, compression, losses, models, params, training
from longtail.artifacts import load_npz, outputs

app = cli.app(__doc__)


def recover(model, cfg, x, y, teacher, seed, stream):
    """Fine-tune `model` with the recovery loss (the reference as teacher where the loss uses one)."""
    return training.train(model, x, y, loss=losses.make(cfg.loss, cfg), generator=training.generator(seed, *stream),
                          teacher=teacher if cfg.loss in losses.USES_TEACHER else None, **cfg.recipe())


def compressed_models(reference, spec, cfg, reference_recipe, x, y, seed):
    """(label, float model, model to evaluate) for each compressed model the params ask for. The
    float model is what gets measured; for quantize the evaluated one is its int8 version."""
    in_shape = tuple(x.shape[1:])
    if cfg.method == "magnitude":
        for sparsity in cfg.sparsities:
            model = compression.magnitude_prune(copy.deepcopy(reference), sparsity)
            model = compression.finalize(recover(model, cfg, x, y, reference, seed, (training.COMPRESS, 1)))
            yield sparsity, model, model
    elif cfg.method == "group_sparsity":
        model = copy.deepcopy(reference)
        groups = compression.channel_groups(model, in_shape)
        penalty = compression.group_lasso(groups)
        training.train(model, x, y, penalty=lambda: cfg.group_lambda * penalty(),
                       generator=training.generator(seed, training.COMPRESS, 2),
                       **(cfg.recipe() | {"epochs": cfg.sparsify_epochs}))
        model = compression.remove_channels(model, in_shape, cfg.target_flops)
        model = recover(model, cfg, x, y, reference, seed, (training.COMPRESS, 1))
        yield None, model, model
    elif cfg.method == "quantize":
        order = torch.randperm(len(x), generator=training.generator(seed, training.COMPRESS, 3))
        yield None, reference, compression.quantize(reference, x[order[: cfg.calibration_size]])
    else:  # distill: a thinner student, trained from scratch with the reference's recipe
        torch.manual_seed(training.derive_seed(seed, training.COMPRESS, 4))
        student = models.build(spec["arch"], in_shape, spec["num_classes"], width=cfg.width).to(x.device)
        training.train(student, x, y, loss=losses.make(cfg.loss, cfg), teacher=reference,
                       generator=training.generator(seed, training.COMPRESS, 5), **reference_recipe)
        yield None, student, student


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
        train, test = load_npz(prepared / "train.npz", ["x", "y"]), load_npz(prepared / "test.npz", ["x", "y"])
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
            on = device if evaluated is measured else torch.device("cpu")  # int8 models run on the CPU
            compressed_pred = training.predict(evaluated, xt.to(on)).to(device)
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
                sweep[f"sparsity_{level:g}".replace(".", "_")] = {"compressed_accuracy": result["compressed_accuracy"],
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
