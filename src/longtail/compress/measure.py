"""What a compression did: each compressed model's test accuracy, size, sparsity and FLOPs against
its reference's (metrics/compress.json), and the two models' test predictions that go on to cie."""

import numpy as np

from longtail.analysis import cie
from longtail.compress import compression
from longtail.train import training
from longtail.compress.recipe import Compressed


def measure(reference, compressed: list[Compressed], x_test, y_test, *, method: str, loss: str):
    """(summary, reference_pred int64 [n], compressed_pred int64 [n]): the summary of the level that
    goes on at its top level, and with a sweep of several levels, each level's accuracy, sparsity
    and CIE counts under `sweep`; the predictions are the reference's and that level's."""
    in_shape = tuple(x_test.shape[1:])
    reference_pred = training.predict(reference, x_test)
    summary = {"method": method, "loss": loss, "reference_accuracy": (reference_pred == y_test).float().mean().item(),
               "reference": compression.footprint(reference, in_shape)}
    sweep, kept = {}, None
    for c in compressed:
        predictions = c.predict(x_test)
        size = compression.footprint(c.measured, in_shape)
        if c.evaluated is not c.measured:
            size["size_bytes"] = compression.size_bytes(c.evaluated)
        result = {
            "compressed_accuracy": (predictions == y_test).float().mean().item(),
            "compressed": size,
            "sparsity": 1 - compression.weights_kept(c.measured),
            "flops_ratio": size["flops"] / summary["reference"]["flops"],
            "parameters_ratio": size["nonzero_parameters"] / summary["reference"]["nonzero_parameters"],
            "size_ratio": size["size_bytes"] / summary["reference"]["size_bytes"],
        }
        if c.level is not None and len(compressed) > 1:
            masks = cie.cie_masks(reference_pred.cpu().numpy(), predictions.cpu().numpy(), y_test.cpu().numpy())
            sweep[c.label] = {"compressed_accuracy": result["compressed_accuracy"], "sparsity": result["sparsity"],
                              **{k: int(v.sum()) for k, v in masks.items()}}
        if c.goes_on:
            kept = result, predictions
    result, predictions = kept
    summary |= result | ({"sweep": sweep} if sweep else {})
    return summary, reference_pred.cpu().numpy().astype(np.int64), predictions.cpu().numpy().astype(np.int64)
