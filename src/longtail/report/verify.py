"""Is a fresh run the committed one? Each number of the metrics files, committed and fresh, is
identical, within its error bar, or outside it.

Why error bars and not bytes: the same commit gives byte-identical outputs on one machine only.
Another x86 CPU rounds the compiled kernels' last bits differently, SGD amplifies them, and every
trained model is in effect another draw of its recipe. So a fresh run on another machine is a
second run of the same experiment, and a number of it should differ from the committed one as two
runs do: by less than Z = 1.96 * sqrt(2) standard errors (95% of the differences of two independent
estimates). Each standard error comes from the run itself:

- the spread the run measured between members of the same recipe: the PIE populations' standard
  deviations for the one reference and the one compressed model, the trials' per-trial standard
  deviation over their count for the trials' means, the spread of each split-half reliability over
  further random splits (uncertainty.split_half_spread);
- the sampling formula of the statistic: binomial for a proportion of n examples, Poisson for a
  count, 1 for a t statistic, 1 for a p-value on the normal-quantile scale, the large-sample standard
  error of Hedges' g and of the Mann-Whitney U, a confidence interval's width / 3.92;
- settings and what the seed alone decides (counts of trials, masks, sizes) must be identical.

Each run's standard error is taken from its own files, and the two combined (_combined), so
that the verdict does not depend on which run is called the committed one. A number with none of
these is reported with the verdict "no error bar" and does not fail the check (README lists them)."""

import math
import re
from typing import NamedTuple

from scipy import stats

Z = 1.96 * math.sqrt(2)  # 95% of the differences of two independent estimates, in standard errors

# Numbers the params and the seed fix, not the arithmetic: two runs of one commit must agree exactly.
EXACT = re.compile(r"(^|\.)(trials|n_train|n_test|splits|draws|split_seed|population|bins|width|strata|"
                   r"mean_subset_size|step|flipped|parameters|nonzero_parameters|flops|size_bytes|flops_ratio|"
                   r"parameters_ratio|size_ratio|sparsity|level|trials_a|trials_b|n_train_a|n_train_b)$")


class Row(NamedTuple):
    file: str
    key: str
    committed: object
    fresh: object
    verdict: str  # identical | within | outside | no error bar | missing | new
    bar: float | None  # the half-width allowed (on the scale of `scale`)
    scale: str  # what the difference and the bar are measured in


def flatten(tree, prefix: str = "") -> dict:
    """{"a.b[2].c": leaf} of nested dicts and lists."""
    if isinstance(tree, list):
        return {k: v for i, item in enumerate(tree) for k, v in flatten(item, f"{prefix}[{i}]").items()}
    if not isinstance(tree, dict):
        return {prefix: tree}
    out = {}
    for key, value in tree.items():
        out |= flatten(value, f"{prefix}.{key}" if prefix else str(key))
    return out


def _z(p: float) -> float:
    """A two-sided p-value as the normal quantile it corresponds to (p 0.05 -> 1.96)."""
    return float(stats.norm.isf(min(max(p, 1e-300), 1.0) / 2))


def _group(key: str) -> str:
    return key.rsplit(".", 1)[0] if "." in key else ""


def _get(flat: dict, key: str):
    value = flat.get(key)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _binomial(p: float, n) -> float | None:
    if not n:
        return None
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)  # a proportion of 1 still moves by an example
    return math.sqrt(p * (1 - p) / n)


# The metrics files of a trial set and the estimate and spread that go with them.
ESTIMATE_OF = {"metrics/trials.json": "metrics/estimate.json",
               "metrics/consistency_trials.json": "metrics/consistency_estimate.json",
               "dvclive/trials/metrics.json": "metrics/estimate.json",
               "dvclive/consistency_trials/metrics.json": "metrics/consistency_estimate.json"}


def standard_error(file: str, key: str, value: float, files: dict[str, dict]) -> tuple[float | None, str]:
    """(the standard error of the number `key` of metrics file `file`, its scale: "value" or "z"), as
    the run whose flattened metrics files are `files` measures it; None where no rule applies."""
    flat = files[file]
    leaf = key.rsplit(".", 1)[-1]
    group = _group(key)
    prefix = f"{group}." if group else ""
    estimate = files.get(ESTIMATE_OF.get(file, ""), {})
    n_test = _get(files.get("metrics/cie.json", {}), "n_test") or _get(estimate, "n_test")
    n_train = _get(estimate, "n_train")
    if leaf in ("p", "p_bh", "as_extreme") or leaf.endswith("_p"):
        return 1.0, "z"
    if leaf in ("t", "welch_t") or leaf.startswith("t_"):
        return 1.0, "value"
    if file.endswith("estimate.json") and key.startswith("reliability_spread."):
        parts = key.split(".")
        sd, splits = _get(flat, f"reliability_spread.{parts[1]}.sd"), _get(flat, "reliability_spread.splits")
        if sd is None or len(parts) != 3 or not splits or splits < 2:
            return None, "value"
        return (sd / math.sqrt(2 * (splits - 1)) if parts[2] == "sd" else sd), "value"
    if file.endswith("estimate.json") and key.startswith("reliability.") and not key.startswith(
            "reliability.memorization_se") and not key.startswith("reliability.trials_for"):
        return _get(flat, f"reliability_spread.{key.split('.')[1]}.sd"), "value"
    if file == "metrics/ttest.json" and key == "reliability":
        return _get(files.get("metrics/estimate.json", {}), f"reliability_spread.{flat.get('statistic')}.sd"), "value"
    if leaf in ("hedges_g", "g_low", "g_high"):
        n1, n2, g = _get(flat, prefix + "n"), _get(flat, prefix + "comparison_n"), _get(flat, prefix + "hedges_g")
        if not n1 or not n2 or g is None:
            return None, "value"
        return math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2))), "value"
    if leaf == "mw_u":
        n1, n2 = _get(flat, prefix + "n"), _get(flat, prefix + "comparison_n")
        return (math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12) if n1 and n2 else None), "value"
    if leaf in ("diff", "diff_low", "diff_high", "raw_diff"):
        low, high = _get(flat, prefix + "diff_low"), _get(flat, prefix + "diff_high")
        return ((high - low) / 3.92 if low is not None and high is not None and high > low else None), "value"
    if file == "metrics/compress.json" and leaf.endswith("accuracy"):
        pops = files.get("metrics/populations.json", {})
        if leaf == "reference_accuracy":
            return _get(pops, "reference.accuracy_std"), "value"
        level = [k for k in pops if k.startswith("levels.") and k.endswith(".accuracy_std")]
        return (_get(pops, level[-1]) if level else None), "value"
    if file in ("dvclive/reference/metrics.json", "dvclive/compress/metrics.json"):
        population = {"dvclive/reference/metrics.json": "dvclive/reference_population/metrics.json",
                      "dvclive/compress/metrics.json": "dvclive/populations/metrics.json"}[file]
        return _get(files.get(population, {}), f"{key}_std"), "value"  # one model: the members' spread
    if file.startswith("dvclive/") and not leaf.endswith("_std"):
        sd, members = _get(flat, f"{key}_std"), _members(file, files)
        return (sd / math.sqrt(members) if sd is not None and members else None), "value"
    if file.startswith("dvclive/") and leaf.endswith("_std"):
        members = _members(file, files)
        return (value / math.sqrt(2 * (members - 1)) if members and members > 1 else None), "value"
    if file.startswith("dvclive/"):
        return None, "value"
    trials, subset = _get(flat, "trials"), _get(flat, "mean_subset_size")
    if file in ESTIMATE_OF and leaf in ("test_accuracy", "held_out_accuracy", "subset_accuracy") and trials:
        # A mean over the trials: each trial's accuracy varies less than a binomial of its n examples
        # (the examples are fixed), so the binomial of all n * trials outcomes bounds its error.
        n = {"test_accuracy": n_test, "subset_accuracy": subset,
             "held_out_accuracy": None if n_train is None or subset is None else n_train - subset}[leaf]
        return _binomial(value, None if n is None else n * trials), "value"
    if leaf in ("test_accuracy", "accuracy_mean") or leaf.startswith("accuracies"):
        return _binomial(value, n_test), "value"  # one model's accuracy on the test set
    if leaf == "min_subset_accuracy":
        return _binomial(value, subset), "value"
    if leaf == "fit_fraction":
        return _binomial(value, trials), "value"
    if leaf in ("group_difficulty", "comparison_difficulty"):  # mean trial accuracy of the examples compared
        parent = group.rsplit(".", 1)[0]
        n = _get(flat, f"{parent}.{'n' if leaf == 'group_difficulty' else 'comparison_n'}")
        trials_of = _get(files.get("metrics/trials.json", {}), "trials")
        return (_binomial(value, n * trials_of) if n and trials_of else None), "value"
    if leaf.startswith("jaccard"):
        kind = {"jaccard_memorization": "memorization", "jaccard_pairs": "influence_pairs"}.get(leaf)
        a, b, both = (_get(flat, f"high_{kind}_{s}") for s in ("a", "b", "both"))
        return (_binomial(value, a + b - both) if None not in (a, b, both) else None), "value"
    if isinstance(value, int):
        return math.sqrt(max(value, 1)), "value"  # a count of found things (CIEs, pairs): Poisson
    return None, "value"


def _members(file: str, files: dict) -> int | None:
    """How many models a dvclive mean is over: the trials, or the PIE population."""
    source = {"dvclive/trials/metrics.json": ("metrics/trials.json", "trials"),
              "dvclive/consistency_trials/metrics.json": ("metrics/consistency_trials.json", "trials"),
              "dvclive/populations/metrics.json": ("metrics/populations.json", "population"),
              "dvclive/reference_population/metrics.json": ("metrics/populations.json", "population")}.get(file)
    return _get(files.get(source[0], {}), source[1]) if source else None


def _combined(file: str, key: str, a, b, committed: dict, fresh: dict) -> tuple[float | None, str]:
    """The standard error of one run, as each run measures it: sqrt((se_a² + se_b²) / 2), so that the
    verdict is the same whichever run is called committed, and a spread of 0 in one run (every trial
    at accuracy 1) does not make the bar 0. Where only one run has it, that one."""
    found = [standard_error(file, key, value, files) for value, files in ((a, committed), (b, fresh))
             if file in files]
    ses = [se for se, _ in found if se is not None]
    if not ses:
        return None, found[-1][1] if found else "value"
    return math.sqrt(sum(se * se for se in ses) / len(ses)), found[-1][1]


def compare(committed: dict[str, dict], fresh: dict[str, dict]) -> list[Row]:
    """A Row for every number (and every other leaf) of the metrics files of either run."""
    committed = {f: flatten(d) for f, d in committed.items()}
    fresh = {f: flatten(d) for f, d in fresh.items()}
    rows = []
    for file in sorted(committed.keys() | fresh.keys()):
        old, new = committed.get(file, {}), fresh.get(file, {})
        for key in sorted(old.keys() | new.keys()):
            a, b = old.get(key), new.get(key)
            if key not in new or key not in old:
                rows.append(Row(file, key, a, b, "missing" if key not in new else "new", None, "value"))
            elif a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
                rows.append(Row(file, key, a, b, "identical", None, "value"))
            elif not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)) \
                    or EXACT.search(key):
                rows.append(Row(file, key, a, b, "outside", 0.0, "exact"))
            else:
                se, scale = _combined(file, key, a, b, committed, fresh)
                if se is None:
                    rows.append(Row(file, key, a, b, "no error bar", None, scale))
                    continue
                difference = abs(_z(a) - _z(b)) if scale == "z" else abs(a - b)
                rows.append(Row(file, key, a, b, "within" if difference <= Z * se else "outside", Z * se, scale))
    return rows
