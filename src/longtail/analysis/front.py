"""The harm-efficiency front of a sweep (Paganini 2020, "Prune responsibly"; Hooker et al. 2019,
2020): every operating point (experiment x compression level) placed by its cost against its
reference (FLOPs, nonzero parameters, size) and its harm (accuracy lost, CIEs, the shift mass of the graded
CIEs, CEV), and the points no other beats on both. Pure: `longtail compare` reads the experiments
and draws it (report.plots.front_figure)."""

import numpy as np

# Smaller is cheaper. Unstructured (magnitude) pruning keeps the dense FLOPs and bytes: its saving
# is the nonzero parameters, which a sparse format or kernel would turn into size or speed.
COSTS = {"flops_ratio": "FLOPs ratio", "parameters_ratio": "nonzero parameters ratio", "size_ratio": "size ratio"}
# Each harm, in words, and its sign: the front minimizes sign * value (accuracy is maximized).
HARMS = {"accuracy": ("population accuracy", -1), "cie": ("CIEs", 1), "shift_mass": ("shift mass", 1),
         "cev": ("CEV", 1)}


def pareto(cost, harm) -> np.ndarray:
    """bool [k]: the points (cost_k, harm_k), both to be minimized, that no other point dominates (as
    good on both and better on one). A point with a missing (None or NaN) value is on no front. Equal
    points do not dominate each other: both are on the front."""
    cost, harm = (np.array([np.nan if v is None else v for v in a], float) for a in (cost, harm))
    known = np.isfinite(cost) & np.isfinite(harm)
    c, h = cost[:, None], harm[:, None]
    dominated = ((cost <= c) & (harm <= h) & ((cost < c) | (harm < h)) & known).any(axis=1)
    return known & ~dominated


def points(name: str, compress: dict, pie: dict, cie: dict) -> list[dict]:
    """One experiment's operating points, one per compressed level (compress.json's `sweep` keys, or
    its one level), from its metrics files: the cost ratios and the single compressed model's CIE
    count (compress.json), the populations' accuracy, PIE count, shift mass, CEV (with its plug-in,
    noise floor and p against it) and SDE
    (pie.json's level of the same label), and whether ttest tested it (`tested`: the last level).
    The CIE count of a one-level run is cie.json's."""
    levels = pie.get("levels") or {}
    last = list(levels)[-1:] or [compress.get("method")]
    sweep = compress.get("sweep") or {label: compress | {"cie": cie.get("cie")} for label in last}
    found = []
    for n, (label, measured) in enumerate(sweep.items()):
        population = levels.get(label) or {}
        found.append({"experiment": name, "level": label, **{k: measured.get(k) for k in COSTS},
                      "accuracy": population.get("compressed_accuracy", measured.get("compressed_accuracy")),
                      "cie": measured.get("cie"),
                      **{k: population.get(k) for k in ("pie", "shift_mass", "cev", "cev_low", "cev_high", "cev_plugin",
                                                        "cev_null", "cev_p", "sde")},
                      "tested": n == len(sweep) - 1})  # the last level goes on to cie and ttest
    return found


def mark(found: list[dict]) -> list[dict]:
    """Each point with `front`: {cost: [the harms on whose front against that cost it lies]}."""
    fronts = {(cost, harm): pareto([p[cost] for p in found], [None if p[harm] is None else sign * p[harm]
                                                             for p in found])
              for cost in COSTS for harm, (_, sign) in HARMS.items()}
    return [p | {"front": {cost: [harm for harm in HARMS if fronts[cost, harm][i]] for cost in COSTS}}
            for i, p in enumerate(found)]
