"""What a compression did: each compressed model's test accuracy, size, sparsity and FLOPs against
its reference's (metrics/compress.json), and the two models' test predictions that go on to cie."""

import numpy as np

from longtail.analysis import cie
from longtail.compress import size
from longtail.compress.recipe import Compressed
from longtail.train import training


RATIOS = ("flops_ratio", "parameters_ratio", "size_ratio")  # the compressed model's cost over its reference's


def summarize(reference, compressed: list[Compressed], x_test, y_test, *, method: str, loss: str):
    """(summary, reference_pred int64 [n], compressed_pred int64 [n]): the summary of the level that
    goes on at its top level, and with a sweep of several levels, each level's accuracy, sparsity,
    cost ratios and CIE counts under `sweep`; the predictions are the reference's and that level's."""
    in_shape = tuple(x_test.shape[1:])
    reference_pred = training.predict(reference, x_test)
    summary = {"method": method, "loss": loss, "reference_accuracy": (reference_pred == y_test).float().mean().item(),
               "reference": size.footprint(reference, in_shape)}
    sweep, kept = {}, None
    for c in compressed:
        predictions = c.predict(x_test)
        cost = size.footprint(c.measured, in_shape)
        if c.evaluated is not c.measured:
            cost["size_bytes"] = size.size_bytes(c.evaluated)
        result = {
            "compressed_accuracy": (predictions == y_test).float().mean().item(),
            "compressed": cost,
            "sparsity": 1 - size.weights_kept(c.measured),
            "flops_ratio": cost["flops"] / summary["reference"]["flops"],
            "parameters_ratio": cost["nonzero_parameters"] / summary["reference"]["nonzero_parameters"],
            "size_ratio": cost["size_bytes"] / summary["reference"]["size_bytes"],
        }
        if c.level is not None and len(compressed) > 1:
            masks = cie.cie_masks(reference_pred.cpu().numpy(), predictions.cpu().numpy(), y_test.cpu().numpy())
            sweep[c.label] = {k: result[k] for k in ("compressed_accuracy", "sparsity", *RATIOS)} | {
                k: int(v.sum()) for k, v in masks.items()}
        if c.goes_on:
            kept = result, predictions
    result, predictions = kept
    summary |= result | ({"sweep": sweep} if sweep else {})
    return summary, reference_pred.cpu().numpy().astype(np.int64), predictions.cpu().numpy().astype(np.int64)


def accuracies(predictions: np.ndarray, y: np.ndarray) -> dict:
    """Test accuracy of each member of a population [m, n], with its mean and sample std."""
    accuracy = (predictions == y).mean(axis=-1)
    return {"accuracy_mean": accuracy.mean(), "accuracy_std": accuracy.std(ddof=1), "accuracies": accuracy.tolist()}


def populations(reference_pred: np.ndarray, compressed_pred: np.ndarray, compressed: list[Compressed], y: np.ndarray,
                *, method: str, loss: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(metrics/populations.json, data/populations/predictions.npz's arrays) of compress.recipe.population's
    predictions: `reference` [m, n], `compressed` [L, m, n], each level's sparsity `levels` [L] (NaN
    for a method without one) and `labels` [L] (compress's sweep keys)."""
    summary = {"population": len(reference_pred), "method": method, "loss": loss,
               "reference": accuracies(reference_pred, y),
               "levels": {c.label: {"level": c.level, **accuracies(pred, y)} for c, pred in zip(compressed, compressed_pred)}}
    arrays = {"reference": reference_pred, "compressed": compressed_pred,
              "levels": np.array([np.nan if c.level is None else c.level for c in compressed], np.float64),
              "labels": np.array([c.label for c in compressed])}
    return summary, arrays
