"""Pruning identified exemplars (Hooker et al. 2019, "What Do Compressed Deep Neural Networks
Forget?"): the population view of what compression changes.

Two populations of models, m reference models and m' compressed ones, predict every test example.

    modal label      the label a population predicts most often for an example
    PIE              a test example where the two populations' modal labels differ
    class recall     recall_c of each model: its accuracy on the test examples of class c
    affected class   a t-test between the two populations' recall_c, each model's recall divided by
                     its population's mean top-1 accuracy, rejects equality at alpha after
                     Benjamini-Hochberg's adjustment across the classes

The normalisation keeps a uniform drop out: if compression costs every class the same share of
accuracy, no class stands out as affected; a class is flagged only when it loses more (or less)
than the network as a whole.

Two deviations from Hooker et al., each for its reason: their populations were independent, ours
are paired (compressed member m is reference member m compressed, seeds.member), so the test is the
paired t on the members' differences where the populations are of one size (Welch's otherwise); and
with C classes tested at once, "affected" follows the p adjusted across them (`p_bh`), not each raw
p, which at alpha = 0.05 flags one class in two among ten unaffected ones about 40% of the time.
"""

import warnings

import numpy as np
from scipy import stats

from longtail import LongtailError
from longtail.analysis import bias
from longtail.analysis.stats import benjamini_hochberg, over_representation


def _population(name: str, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """`predictions` checked: integer labels [models, examples] in 0..num_classes - 1."""
    if num_classes < 1:
        raise LongtailError(f"num_classes = {num_classes} must be at least 1")
    predictions = np.asarray(predictions)
    if predictions.ndim != 2 or predictions.shape[0] < 1:
        raise LongtailError(f"{name} must be [models, examples], found shape {predictions.shape}")
    if not np.issubdtype(predictions.dtype, np.integer):
        raise LongtailError(f"{name} must be integer labels, found dtype {predictions.dtype}")
    if predictions.size and (predictions.min() < 0 or predictions.max() >= num_classes):
        raise LongtailError(f"{name} hold labels outside 0..{num_classes - 1}; pass num_classes > {predictions.max()}")
    return predictions


def _same_examples(n: int, **arrays: np.ndarray) -> None:
    shapes = {name: a.shape for name, a in arrays.items()}
    if any(a.shape[-1] != n for a in arrays.values()):
        raise LongtailError(f"predictions and labels must cover the same test examples; got shapes {shapes}")


def modal_labels(predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """The most frequent label of each example across the population: predictions [m, n] -> [n].

    A tie goes to the smallest label, so that the modal label (and hence the PIEs) is a function of
    the predictions alone, with no random tie-break to change between runs."""
    predictions = _population("population predictions", predictions, num_classes)
    n = predictions.shape[1]
    votes = np.bincount((np.arange(n) * num_classes + predictions).ravel(), minlength=n * num_classes)
    return votes.reshape(n, num_classes).argmax(axis=1)  # argmax takes the first of equal counts


def pie_mask(reference_predictions: np.ndarray, compressed_predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """bool [n]: True where the modal labels of the reference population [m, n] and the compressed
    population [m', n] differ (Hooker et al.'s pruning identified exemplars)."""
    reference = _population("reference predictions", reference_predictions, num_classes)
    compressed = _population("compressed predictions", compressed_predictions, num_classes)
    _same_examples(reference.shape[1], reference=reference, compressed=compressed)
    return modal_labels(reference, num_classes) != modal_labels(compressed, num_classes)


def class_recall(predictions: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    """[m, C]: recall of each model on each class, the share of class c's test examples it labels c.
    NaN for a class with no test example."""
    predictions = _population("population predictions", predictions, num_classes)
    y = np.asarray(y)
    if y.ndim != 1:
        raise LongtailError(f"labels must be 1-d [examples], found shape {y.shape}")
    _population("labels", y[None], num_classes)
    _same_examples(len(y), predictions=predictions, labels=y)
    right = (predictions == y).astype(np.float64)  # [m, n]
    onehot = np.arange(num_classes)[:, None] == y  # [C, n]
    counts = onehot.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (right @ onehot.T) / counts


def recall_tests(reference_predictions: np.ndarray, compressed_predictions: np.ndarray, y: np.ndarray,
                 num_classes: int, alpha: float) -> dict:
    """The t-test, class by class, between the normalised recalls of the two populations: paired
    where they are of one size, Welch's where not (the module docstring).

    Each model's recall_c is divided by its population's mean top-1 accuracy, as Hooker et al. do.
    Returns {"classes": {c: {t, p, reference_recall, compressed_recall (population means of the raw
    recalls), reference_normalised, compressed_normalised (means of the normalised ones)}},
    "affected": [classes with p_bh <= alpha]}, p_bh adjusted across the classes. t and p are None for a class without test examples. A
    class with zero variance in both populations (`constant`: every member's recall the same) has t
    None and p 0 where the two populations' recalls differ (affected: the same drop in every member)
    or 1 where they are equal."""
    y = np.asarray(y)
    reference = class_recall(reference_predictions, y, num_classes)
    compressed = class_recall(compressed_predictions, y, num_classes)
    for name, recall in (("reference", reference), ("compressed", compressed)):
        if len(recall) < 2:
            raise LongtailError(f"the {name} population has {len(recall)} model; Welch's t-test needs at "
                                "least 2 per population (raise pie.population)")
    normalised = []
    for name, predictions, recall in (("reference", reference_predictions, reference),
                                      ("compressed", compressed_predictions, compressed)):
        mean_accuracy = (np.asarray(predictions) == y).mean()
        if mean_accuracy == 0:
            raise LongtailError(f"the {name} population's mean accuracy is 0: recall cannot be normalised by "
                                "it; its models learned nothing (check the training recipe)")
        normalised.append(recall / mean_accuracy)
    classes, affected = {}, []
    for c in range(num_classes):
        a, b = normalised[0][:, c], normalised[1][:, c]
        t = p = None
        constant = bool(not np.isnan(a).any() and np.ptp(a) == 0 and np.ptp(b) == 0)  # ptp: exact, where var rounds
        unchanged = len(a) == len(b) and np.array_equal(reference[:, c], compressed[:, c])
        if unchanged and not constant:
            # Every compressed member has its reference member's recall: no model changed on this
            # class. Paired, the normalised differences are then r_m (1/A_ref - 1/A_comp), the
            # normalisation's own trace, which a paired t calls certain; it is not an effect.
            p = 1.0
        elif constant:
            # Every member of both populations has the same recall: no spread for Welch's t, and none
            # needed. A changed recall is certain (p = 0, affected); an unchanged one is certain too
            # (p = 1), even where the normalisation by the populations' accuracies makes the normalised
            # values differ: a class no model changed is not one the compression affected.
            p = 0.0 if reference[0, c] != compressed[0, c] else 1.0
        elif not np.isnan(a).any():
            with warnings.catch_warnings():  # one population constant: scipy warns, the test holds
                warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
                warnings.filterwarnings("ignore", "invalid value", RuntimeWarning)
                if len(a) == len(b) and np.ptp(a - b) == 0:  # every pair moved alike: certain
                    p = 0.0 if a[0] != b[0] else 1.0
                else:
                    test = stats.ttest_rel(a, b) if len(a) == len(b) else stats.ttest_ind(a, b, equal_var=False)
                    t, p = (float(v) for v in test)
        classes[c] = {"t": t, "p": p, "constant": constant, "reference_recall": float(reference[:, c].mean()),
                      "compressed_recall": float(compressed[:, c].mean()),
                      "reference_normalised": float(a.mean()), "compressed_normalised": float(b.mean())}
    for c, adjusted in zip(classes, benjamini_hochberg([r["p"] for r in classes.values()])):
        classes[c]["p_bh"] = adjusted
        if adjusted is not None and adjusted <= alpha:
            affected.append(c)
    return {"classes": classes, "affected": affected}



def levels(reference: np.ndarray, compressed: np.ndarray, labels, values, y: np.ndarray, alpha: float, *,
           shifted: float, bootstrap: int, seed: int, rare: np.ndarray | None = None) -> tuple[dict, dict]:
    """Each level of data/populations/predictions.npz: reference [m, n] and compressed [L, m, n]
    predictions, the level's label and swept value. Returns (arrays, metrics/pie.json).

    The arrays: the PIE masks `pie_levels` bool [L, n]; each example's taxicab shift `shift_levels`
    float64 [L, n] between the populations' label distributions (`reference_votes` [n, C],
    `compressed_votes` [L, n, C]: the share of the models that give each label); the most shifted
    share `shifted` of the test set, `shifted_levels` bool [L, n] (analysis.bias).

    The metrics, per level: its PIE count, shift mass and most shifted count, both populations'
    accuracy, the per-class recall tests (at `alpha`), the field's bias metrics (analysis.bias.measure:
    `bootstrap` resamples from `seed`) and, with the synthetic set's `rare` flags, how
    over-represented they are among the PIEs and the most shifted."""
    if compressed.ndim != 3 or len(compressed) == 0 or len(labels) != len(compressed):
        raise LongtailError(f"the compressed population must be [levels, models, examples] with one label per level, "
                            f"found {compressed.shape} and {len(labels)} labels; rerun the populations stage")
    num_classes = int(max(y.max(), reference.max(), compressed.max())) + 1
    arrays, found = {"pie_levels": [], "shift_levels": [], "shifted_levels": [], "compressed_votes": []}, {}
    reference_votes = bias.label_distributions(reference, num_classes)
    for label, level, population in zip(labels, values, compressed):
        mask = pie_mask(reference, population, num_classes)
        votes = bias.label_distributions(population, num_classes)
        shift = bias.taxicab_shift(reference_votes, votes)
        top = bias.most_shifted(shift, shifted)
        tests = recall_tests(reference, population, y, num_classes, alpha)
        classes = bias.measure(reference, population, y, num_classes, bootstrap=bootstrap, seed=seed)
        found[str(label)] = {"level": level, "pie": int(mask.sum()), "shift_mass": float(shift.sum() / 2),
                             "shifted": int(top.sum()), "shifted_min": float(shift[top].min()) if top.any() else None,
                             "reference_accuracy": (reference == y).mean(), "compressed_accuracy": (population == y).mean(),
                             "affected_classes": tests["affected"], "classes_affected": len(tests["affected"]),
                             "recall": tests["classes"], **{k: classes[k] for k in BIAS}, "bias": classes["classes"]}
        if rare is not None:
            found[str(label)]["rare"] = over_representation(mask, rare.astype(bool))
            found[str(label)]["shifted_rare"] = over_representation(top, rare.astype(bool))
        for key, array in zip(arrays, (mask, shift, top, votes)):
            arrays[key].append(array)
    arrays = {key: np.stack(a) for key, a in arrays.items()} | {"reference_votes": reference_votes}
    last = found[str(labels[-1])]
    summary = {"population": len(reference), "alpha": alpha, "n_test": len(y), "shifted_share": shifted,
               **{k: last[k] for k in ("pie", "shift_mass", "shifted", *BIAS)}, "levels": found}
    return arrays, summary


# The bias metrics of metrics/pie.json, per level and (the last level's) at its top.
BIAS = tuple(f"{name}{key}" for name in ("cev", "sde") for key in ("", "_low", "_high", "_se", "_plugin", "_null", "_p")) + (
    "undefined_classes", "unstable_classes")
