"""Compression's harm beyond disagreement, from two populations of models' test predictions (the
reference population [m, n] and a compressed one [m', n], integer labels):

    taxicab shift   Hooker et al. 2020 ("Characterising bias in compressed models"): for test
                    example i, the L1 distance between the two populations' label distributions,
                    shift_i = sum_c |P_ref(c | i) - P_comp(c | i)|, with P(c | i) the share of a
                    population's models that label i as c. 0 (the populations vote alike) to 2
                    (no label in common). A graded CIE: the PIEs are the examples whose modal
                    label moved; the shift also counts the votes that moved without flipping it.
    shift mass      sum_i shift_i / 2: how many test examples' worth of votes the compression moved
                    (each example's half-L1 is the total variation, the share of its votes that moved).
    CEV, SDE        Blakeney et al. ("Simon says", 2021; "Measuring bias and fairness in multiclass
                    classification", NAS 2022): with each class's relative change in its false-positive
                    and false-negative rate from the reference to the compressed population,
                        dFPR_c = (FPR_c^comp - FPR_c^ref) / FPR_c^ref,
                        dFNR_c = (FNR_c^comp - FNR_c^ref) / FNR_c^ref,
                    CEV = 1/C sum_c ||(dFPR_c, dFNR_c) - (mean_c dFPR, mean_c dFNR)||^2   (combined error variance)
                    SDE = 1/C sum_c |dFNR_c - dFPR_c|                                     (symmetric distance error)
                    A population's rate is the mean of its members' rates. A class whose reference
                    rate is 0 has no relative change: it is left out of the means and named
                    (`undefined_classes`). CEV is 0 when every class's errors move alike and grows
                    with how unevenly they move; SDE is 0 when each class's false positives and false
                    negatives move by the same share, and grows as they part.

Every number carries its interval over the population members: Welch's interval for the per-class
changes, a percentile bootstrap (members resampled within each population) for CEV and SDE.
"""

import math
import warnings

import numpy as np

from longtail import LongtailError
from longtail.analysis.stats import welch_difference


def label_distributions(predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """[n, C]: the share of the population's models [m, n] that give each test example each label."""
    m, n = predictions.shape
    votes = np.bincount((np.arange(n) * num_classes + predictions).ravel(), minlength=n * num_classes)
    return votes.reshape(n, num_classes) / m


def taxicab_shift(reference: np.ndarray, compressed: np.ndarray) -> np.ndarray:
    """float64 [n] in [0, 2]: each test example's L1 distance between the two populations' label
    distributions [n, C] (label_distributions; Hooker et al. 2020)."""
    if reference.shape != compressed.shape:
        raise LongtailError(f"the two populations' label distributions must cover the same test examples and "
                            f"classes; got {reference.shape} and {compressed.shape}")
    return np.abs(reference - compressed).sum(1)


def most_shifted(shift: np.ndarray, share: float) -> np.ndarray:
    """bool [n]: the ceil(share * n) test examples of largest shift, with every example tied with the
    last of them (the set is a function of the shifts alone, not of their order); an example whose
    shift is 0 is never in it, so the set is smaller where fewer examples moved at all."""
    if len(shift) == 0:
        return np.zeros(0, bool)
    k = min(len(shift), max(1, math.ceil(share * len(shift))))
    cut = np.sort(shift)[::-1][k - 1]
    return (shift >= cut) & (shift > 0)


def error_rates(predictions: np.ndarray, y: np.ndarray, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(FPR [m, C], FNR [m, C]) of each model: FPR_c the share of the examples not of class c that it
    labels c, FNR_c the share of class c's examples it labels otherwise. NaN where a class has no
    example (FNR) or every example is of it (FPR)."""
    onehot = np.arange(num_classes)[:, None] == y  # [C, n]
    said = predictions[:, None, :] == np.arange(num_classes)[None, :, None]  # [m, C, n]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = (said & ~onehot).sum(-1) / (~onehot).sum(-1)
        fnr = (~said & onehot).sum(-1) / onehot.sum(-1)
    return fpr, fnr


def cev_sde(reference: tuple[np.ndarray, np.ndarray], compressed: tuple[np.ndarray, np.ndarray]):
    """(CEV, SDE, undefined classes) from each population's mean (FPR [C], FNR [C]) (Blakeney et al.'s
    definitions, the module docstring). CEV and SDE are None where no class is defined."""
    with np.errstate(invalid="ignore", divide="ignore"):
        d_fpr, d_fnr = ((c - r) / r for r, c in zip(reference, compressed))
    defined = np.isfinite(d_fpr) & np.isfinite(d_fnr)
    if not defined.any():
        return None, None, np.flatnonzero(~defined)
    d_fpr, d_fnr = d_fpr[defined], d_fnr[defined]
    cev = float(np.mean((d_fpr - d_fpr.mean()) ** 2 + (d_fnr - d_fnr.mean()) ** 2))
    return cev, float(np.mean(np.abs(d_fnr - d_fpr))), np.flatnonzero(~defined)


def measure(reference: np.ndarray, compressed: np.ndarray, y: np.ndarray, num_classes: int, *, bootstrap: int,
            seed: int, confidence: float = 0.95) -> dict:
    """metrics/pie.json's `bias` of one level: per class the change (compressed minus reference
    population mean) of recall and of the false-positive rate with Welch's `confidence` interval over
    the members; CEV and SDE with their percentile bootstrap interval (`bootstrap` resamples of the
    members of each population, drawn from `seed`)."""
    ref_rates, comp_rates = error_rates(reference, y, num_classes), error_rates(compressed, y, num_classes)
    classes = {}
    for c in range(num_classes):
        recall = welch_difference(1 - comp_rates[1][:, c], 1 - ref_rates[1][:, c], confidence=confidence)
        fpr = welch_difference(comp_rates[0][:, c], ref_rates[0][:, c], confidence=confidence)
        classes[str(c)] = {f"{name}_{key}": q[key] for name, q in (("recall", recall), ("fpr", fpr))
                           for key in ("diff", "diff_low", "diff_high")}
    cev, sde, undefined = cev_sde([r.mean(0) for r in ref_rates], [r.mean(0) for r in comp_rates])
    rng = np.random.default_rng(seed)
    resampled = []
    # Members resampled within each population, the rates' own noise. A class whose resampled reference
    # rate is 0 drops out of that resample's means, as it would out of a run with those members.
    for _ in range(bootstrap):
        a, b = rng.integers(len(reference), size=len(reference)), rng.integers(len(compressed), size=len(compressed))
        resampled.append(cev_sde([r[a].mean(0) for r in ref_rates], [r[b].mean(0) for r in comp_rates])[:2])
    resampled = np.array([[np.nan if v is None else v for v in pair] for pair in resampled]).reshape(-1, 2)
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column: no interval
        low_high = [np.nanquantile(col, tails) if np.isfinite(col).any() else [np.nan, np.nan] for col in resampled.T]
    out = {"classes": classes, "undefined_classes": undefined.tolist(), "bootstrap": bootstrap}
    for name, value, (low, high) in (("cev", cev, low_high[0]), ("sde", sde, low_high[1])):
        out |= {name: value, f"{name}_low": None if value is None else float(low),
                f"{name}_high": None if value is None else float(high)}
    return out
