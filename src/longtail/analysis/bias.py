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

Every number carries its interval over the population members. Member m of the compressed
population is member m of the reference compressed (seeds.member), so the two are paired where they
are of one size (a paired analysis is valid for independent populations too, only less sharp):

    per-class changes   recall and FPR, compressed minus reference: the paired t interval (Welch's
                        where the sizes differ), p adjusted by Benjamini-Hochberg across the classes.
    CEV, SDE            non-negative functions of noisy rates: the plug-in (`cev_plugin`) sits above
                        the truth (0.071 on average where nothing changed, 10 members of 400
                        examples). `cev` is the jackknife's bias-corrected estimate over the pairs,
                        clipped at 0, with the t interval of the jackknife's standard error on m - 1
                        df, clipped at 0 (SDE's widened where |.| is not smooth); its lower end is
                        0 wherever the noise-floor test cannot reject (a test inverted: where
                        nothing changed, the interval holds 0 with probability at least 1 - alpha).
    noise floor         what two populations of one recipe give: each pair's members exchanged at
                        random (`bootstrap` draws; the populations pooled and re-split where
                        unpaired). `cev_null` is the plug-in's mean over them, `cev_p` the share at
                        least as large as the plug-in (with the +1 that counts it): is the CEV beyond
                        what member noise alone gives, if compression changed nothing? With m pairs
                        there are 2^m exchanges, so p >= 2^-m (0.25 at 2 members).

The jackknife and its interval use the classes whose reference rate rests on at least two members
(`unstable_classes`: a rate from one member's errors turns 0 when it is left out), at least 2 members; the plug-in and
the noise floor use Blakeney et al.'s set (every class with a nonzero reference rate).
benchmarks/coverage.py measures the intervals' coverage in simulated populations of known truth.
"""

import math

import numpy as np
from scipy import stats

from longtail import LongtailError
from longtail.analysis.stats import benjamini_hochberg, paired_difference, welch_difference


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
    population mean) of recall and of the false-positive rate with its `confidence` interval over the
    members and its p adjusted across the classes; CEV and SDE with their bias-corrected estimate,
    interval, plug-in, noise floor and p (`bootstrap` exchanges drawn from `seed`; module docstring)."""
    ref_rates, comp_rates = error_rates(reference, y, num_classes), error_rates(compressed, y, num_classes)
    paired = len(reference) == len(compressed)
    change = paired_difference if paired else welch_difference
    classes = {str(c): {} for c in range(num_classes)}
    for name, (comp, ref) in (("recall", (1 - comp_rates[1], 1 - ref_rates[1])), ("fpr", (comp_rates[0], ref_rates[0]))):
        found = [change(comp[:, c], ref[:, c], confidence=confidence) for c in range(num_classes)]
        for c, q, adjusted in zip(classes, found, benjamini_hochberg([q["p"] for q in found])):
            classes[c] |= {f"{name}_{key}": q[key] for key in ("diff", "diff_low", "diff_high", "p")} | {
                f"{name}_p_bh": adjusted}
    cev, sde, undefined = cev_sde(_means(ref_rates), _means(comp_rates))
    plugin = {"cev": cev, "sde": sde}
    floor = _noise_floor(ref_rates, comp_rates, paired, bootstrap, np.random.default_rng(seed))
    unstable = _unstable(ref_rates) & ~np.isin(np.arange(num_classes), undefined)
    jackknife = _jackknife(ref_rates, comp_rates, paired, ~unstable & ~np.isin(np.arange(num_classes), undefined),
                           confidence)
    out = {"classes": classes, "undefined_classes": undefined.tolist(), "unstable_classes": np.flatnonzero(unstable).tolist(),
           "bootstrap": bootstrap, "paired": paired}
    for i, name in enumerate(("cev", "sde")):
        value, draws = plugin[name], floor[:, i]
        p = None if value is None or not np.isfinite(draws).any() else \
            float((1 + np.sum(draws[np.isfinite(draws)] >= value - 1e-12 * abs(value))) / (1 + np.isfinite(draws).sum()))
        estimate, low, high, se = jackknife[i]
        if estimate is not None:
            if p is None or p > 1 - confidence:  # no change cannot be rejected: 0 stays in the interval
                low = 0.0
            estimate = max(0.0, estimate)
        out |= {name: estimate, f"{name}_low": low, f"{name}_high": high, f"{name}_se": se,
                f"{name}_plugin": value, f"{name}_null": _mean_or_none(draws), f"{name}_p": p}
    return out


def _means(rates: tuple[np.ndarray, np.ndarray], members=slice(None)) -> list[np.ndarray]:
    """A population's mean (FPR [C], FNR [C]) over the chosen members."""
    return [r[members].mean(0) for r in rates]


def _noise_floor(ref_rates, comp_rates, paired: bool, draws: int, rng) -> np.ndarray:
    """[draws, 2]: the plug-in (CEV, SDE) of two populations of one recipe, each pair's members
    exchanged at random (the populations pooled and re-split where unpaired); NaN where undefined."""
    pooled = [np.concatenate([r, c]) for r, c in zip(ref_rates, comp_rates)]
    m, total = len(ref_rates[0]), len(pooled[0])
    out = np.full((draws, 2), np.nan)
    for d in range(draws):
        if paired:
            swap = rng.random(m) < 0.5
            first = np.where(swap, np.arange(m) + m, np.arange(m))
            second = np.where(swap, np.arange(m), np.arange(m) + m)
        else:
            order = rng.permutation(total)
            first, second = order[:m], order[m:]
        value = cev_sde(_means(pooled, first), _means(pooled, second))[:2]
        out[d] = [np.nan if v is None else v for v in value]
    return out


def _unstable(ref_rates) -> np.ndarray:
    """bool [C]: classes whose reference FPR or FNR is nonzero in fewer than two members (left out,
    the one turns it 0 and its relative change undefined)."""
    return np.any([(r > 0).sum(0) < 2 for r in ref_rates], axis=0)


def _jackknife(ref_rates, comp_rates, paired: bool, keep: np.ndarray, confidence: float) -> list[tuple]:
    """[(estimate, low, high, se)] for CEV and SDE over the classes `keep`: the delete-one jackknife
    over the pairs (over each population apart where unpaired, the two variances and biases added;
    Efron & Tibshirani 1993, ch. 11): estimate = theta + sum of (k - 1) (theta - mean of its
    leave-outs), se^2 = sum of (k - 1)/k sum (theta_(i) - their mean)^2, the t interval on the smaller
    population's size - 1 df, clipped at 0. SDE's mean of |dFNR_c - dFPR_c| is not smooth where a
    class's two changes agree, and there the jackknife's correction is not the bias (it leaves |noise|
    in such a class and over-corrects the others): its interval spans both the jackknife's and the
    plug-in's t intervals, its lower end at most the mean over classes of each class's |change| less
    its own t interval's half-width. All None
    with fewer than 2 members or no class kept."""
    ref_rates = [r[:, keep] for r in ref_rates]
    comp_rates = [r[:, keep] for r in comp_rates]
    m, m2 = len(ref_rates[0]), len(comp_rates[0])
    if min(m, m2) < 2 or not keep.any():
        return [(None, None, None, None)] * 2

    def value(a, b):  # CEV, SDE and each class's dFNR - dFPR
        (r_fpr, r_fnr), (c_fpr, c_fnr) = _means(ref_rates, a), _means(comp_rates, b)
        d_fpr, d_fnr = (c_fpr - r_fpr) / r_fpr, (c_fnr - r_fnr) / r_fnr
        cev = np.mean((d_fpr - d_fpr.mean()) ** 2 + (d_fnr - d_fnr.mean()) ** 2)
        return np.concatenate([[cev, np.mean(np.abs(d_fnr - d_fpr))], d_fnr - d_fpr])

    theta = value(slice(None), slice(None))
    drop = lambda k, i: np.delete(np.arange(k), i)  # noqa: E731
    leaves = [np.array([value(drop(m, i), drop(m2, i)) for i in range(m)])] if paired \
        else [np.array([value(drop(m, i), slice(None)) for i in range(m)]),
              np.array([value(slice(None), drop(m2, i)) for i in range(m2)])]
    estimate = theta + sum((len(leave) - 1) * (theta - leave.mean(0)) for leave in leaves)
    se = np.sqrt(sum((len(leave) - 1) / len(leave) * ((leave - leave.mean(0)) ** 2).sum(0) for leave in leaves))
    q = float(stats.t.ppf((1 + confidence) / 2, min(m, m2) - 1))
    low, high = np.maximum(0.0, estimate - q * se), np.maximum(0.0, estimate + q * se)
    low[1] = min(low[1], np.mean(np.maximum(0.0, np.abs(theta[2:]) - q * se[2:])))
    high[1] = max(high[1], theta[1] + q * se[1])
    return [(float(estimate[i]), float(low[i]), float(high[i]), float(se[i])) for i in range(2)]


def _mean_or_none(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return float(values.mean()) if len(values) else None
