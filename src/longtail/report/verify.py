"""Is a fresh run the committed one? Each number of the metrics files, committed and fresh, is
identical, within its error bar, or outside it.

Why error bars and not bytes: the same commit gives byte-identical outputs on one machine only.
Another x86 CPU (or another thread count, or the trials uncompiled) sums in another order, rounds the
last bits differently, and SGD amplifies them: every trained model becomes another draw of its
recipe. A number of such a run should differ from the committed one by less than Z = 1.96 * sqrt(2)
standard errors (95% of the differences of two independent estimates).

What the bars are for: another machine's rerun of the SAME trials and seed (the same masks, data
orders, splits and draws; other summation orders). They are not bars for an independent new set of
trials (another seed): over 150 independent trial sets, a reliability spread across runs 1.26 times
its split spread, so a new seed's numbers fall outside more often than 5%. Most bars below are the
statistic's own sampling error, wider than a rerun's; benchmarks/verify_bars.py measures how often a
rerun falls outside each kind (want about 5%, at most 10%).

The kinds of bar (RULES, first match wins; the benchmark reports each kind by this name):

  exact                settings (every knob of params.yaml, by its name in the schema, and the seed),
                       what the seed alone decides (sizes, counts of trials and draws, the networks'
                       shapes), lists and every non-numeric leaf: must be identical.
  z of a p-value       a p-value on the normal-quantile scale, standard error 1.
  t statistic          a t statistic (and quantiles of t under a null), standard error 1.
  split spread         a split-half reliability: the spread of its further random splits.
  Hedges' g, Mann-Whitney U: their large-sample standard errors.
  own se               a number stored with its standard error (X with X_se, or a group's one interval
                       and `se`: the LDS, each Welch or paired difference, CEV, SDE): that se, for the
                       number, its interval's ends, its se and its plug-in and null (X_plugin, X_null,
                       null_X_mean, null_X_high: the same statistic on the same members).
  interval             a number stored with an interval but no se (X with X_low and X_high, or a group
                       with low and high: each AUC, the added value, per-class recall and FPR changes):
                       the wider half of the interval / q, q Student's t at the sibling df (pie.json:
                       members - 1, its intervals being paired t over the population's members), else
                       the normal's 1.96. The same bar for the ends and the family as above.
  degrees of freedom   Welch's df, a function of the two groups' variance estimates: relative
                       standard error sqrt(2 / (n - 1)) of the smaller group's variance.
  delta method         a number derived by a formula from numbers with a bar: trials_to_detect =
                       trials (z se / diff)^2 and trials_for_median_se = trials (se / target)^2 move
                       by 2 relative standard errors of diff (or se) each.
  tested means         each of the two means of a tested difference (mean and comparison_mean, the
                       populations' recalls, raw_diff): at most the difference's standard error (from
                       its interval, or |difference| / |t|).
  variance ratio       the design effect, a ratio of variances over the influence-free draws:
                       relative standard error sqrt(2 / (draws - 1)).
  members' spread      one model's or a mean's numbers of a population or of the trials: the members'
                       standard deviation (over sqrt(members) for a mean).
  spread of a spread   a standard deviation or standard error measured over N draws (members,
                       trials): relative standard error 1 / sqrt(2 (N - 1)).
  binomial             a proportion of n outcomes (accuracies, fit share, Jaccard, difficulty).
  Fisher z             a correlation over the n test examples: (1 - r^2) / sqrt(n - 3).
  Hanley-McNeil        an AUC stored without an interval (the planted truth's): its sampling formula.
  through its parts    D_mem, a mean of |mem_a - mem_b|: the two estimates' median standard errors.
  Poisson              a count of found things (CIEs, PIEs, pairs, high-memorization examples, affected
                       classes, Q2's spline knots, set by how many distinct difficulties the comparison
                       has): a sum of Bernoullis has variance at most its mean; the shift mass counts
                       moved votes.

Each run's standard error is taken from its own files, and the two combined (_combined), so that the
verdict does not depend on which run is called the committed one. A number no rule covers says "no
error bar" and does not fail the check: means over all examples of an estimate whose per-example
errors share the trials (memorization_mean, test_mean_influence_mean, banzhaf.mean, the null's
null_mean and excess_mean), the order statistic shifted_min, the planted check's group means, and
the comparison's mean beside a group too small to test (its t, diff and se are null)."""

import math
import re
from typing import Callable, NamedTuple

from scipy import stats

NORMAL = float(stats.norm.ppf(0.975))  # an interval's half-width in standard errors, without a df
Z = NORMAL * math.sqrt(2)  # 95% of the differences of two independent estimates, in standard errors

# Settings: every knob of params.yaml by its schema name (`settings` of compare: the command passes
# params.knobs(), as the library below the params does not read their schema). A metric named like a
# knob is that knob written beside the results (alpha, bootstrap, folds, population, statistic, ...),
# except pie.json's `shifted`, the count of the most shifted examples (its knob, pie.shifted, is
# written `shifted_share`).
# What the params and the seed decide before any arithmetic: sizes of the data and its split, counts
# of trials, splits and draws, the seeded masks' sizes, held-out trials, the networks' shapes.
SEED_DECIDED = {"trials", "trials_a", "trials_b", "n_train", "n_train_a", "n_train_b", "n_test", "of", "splits",
                "draws", "split_seed", "strata", "mean_subset_size", "held_out", "step", "flipped", "level",
                "parameters", "nonzero_parameters", "flops", "size_bytes", "flops_ratio", "parameters_ratio",
                "size_ratio", "undefined_train_examples", "influence_nan", "family", "overall_share"}


def exact_names(settings: frozenset[str]) -> frozenset[str]:
    """The leaves judged exact: the settings (but pie.json's count `shifted`) and what the seed decides."""
    return frozenset((set(settings) - {"shifted"}) | {"seed", "shifted_share"} | SEED_DECIDED)


class Row(NamedTuple):
    file: str
    key: str
    committed: object
    fresh: object
    verdict: str  # identical | within | outside | no error bar | missing | new
    bar: float | None  # the half-width allowed (on the scale of `scale`)
    scale: str  # what the difference and the bar are measured in: value, z or exact
    rule: str = ""  # the kind of bar (RULES), or exact, or "" where no number was compared


# --- the metrics files, flattened ------------------------------------------------------------------

def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def leaves(tree, path: tuple = ()) -> dict[tuple, object]:
    """{path: leaf} of nested dicts and lists, a path the keys and list indices down to the leaf. A
    list of floats is a list of numbers (each member's accuracy), each its own leaf; any other list
    (class indices, names) is one leaf, compared whole."""
    if isinstance(tree, list) and any(isinstance(item, (dict, list, float)) for item in tree):
        return {p: v for i, item in enumerate(tree) for p, v in leaves(item, path + (i,)).items()}
    if not isinstance(tree, dict):
        return {path: tree}
    return {p: v for key, value in tree.items() for p, v in leaves(value, path + (str(key),)).items()}


def name(path: tuple) -> str:
    """"a.b[2].c" of a path."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else part
    return out


def flatten(tree) -> dict:
    """{"a.b[2].c": leaf} of nested dicts and lists (leaves)."""
    return {name(p): v for p, v in leaves(tree).items()}


class Run(NamedTuple):
    """A run's metrics files: each file's leaves, and the same grouped by their parent."""
    files: dict[str, dict[tuple, object]]
    groups: dict[str, dict[tuple, dict[str, object]]]

    @classmethod
    def of(cls, metrics: dict[str, dict]) -> "Run":
        files = {f: leaves(d) for f, d in metrics.items()}
        groups = {}
        for file, flat in files.items():
            for path, value in flat.items():
                group, leaf = _split(path)
                groups.setdefault(file, {}).setdefault(group, {})[leaf] = value
        return cls(files, groups)

    def get(self, file: str, *path) -> float | None:
        value = self.files.get(file, {}).get(tuple(path))
        return value if _is_number(value) else None


def _split(path: tuple) -> tuple[tuple, str]:
    """(the group, the leaf's name) of a path: a list's member is named by its list."""
    named = max(i for i, part in enumerate(path) if isinstance(part, str)) if path else -1
    return path[:named], path[named] if named >= 0 else ""


class Number(NamedTuple):
    """One number of one run, with what its rule reads: the file, the path, the value, the run."""
    file: str
    path: tuple
    value: float
    run: Run

    @property
    def leaf(self) -> str:
        return _split(self.path)[1]

    @property
    def group(self) -> tuple:
        return _split(self.path)[0]

    @property
    def siblings(self) -> dict[str, object]:
        return self.run.groups[self.file][self.group]

    def get(self, key: str, group: tuple | None = None) -> float | None:
        """A numeric sibling (or a leaf of `group` in the same file)."""
        value = (self.siblings if group is None else self.run.groups[self.file].get(group, {})).get(key)
        return value if _is_number(value) else None


# --- intervals ---------------------------------------------------------------------------------------

ENDS = (("_ci_low", "_ci_high"), ("_low", "_high"))  # X_ci_low/X_ci_high, X_low/X_high: the interval of X
GROUP_ENDS = (("ci_low", "ci_high"), ("low", "high"))  # a group's one interval, of its one point
GROUP_WORDS = {"ci_low", "ci_high", "low", "high", "se", "df"}
FAMILY = re.compile(r"^null_(?P<a>.+)_(mean|low|high)$|^(?P<b>.+)_(null|plugin)$")  # the statistic's kin


class Interval(NamedTuple):
    point: str
    low: str
    high: str
    se: str | None
    df: str | None


def intervals(siblings: dict[str, object]) -> dict[str, Interval]:
    """The intervals stored in a group, by the name of their number: X with X_low and X_high (or
    X_ci_low, X_ci_high), or the group's one non-integer number with its `low` and `high`. X_se and
    X_df are X's; the group's own `se` and `df` belong to its interval where it has one."""
    found, used = {}, set()
    for low, high in ENDS:
        for key in siblings:
            point = key[:-len(low)]
            if key.endswith(low) and point and key not in GROUP_WORDS | used and point + high in siblings:
                used |= {key, point + high}
                found[point] = Interval(point, key, point + high, _present(siblings, point + "_se"),
                                        _present(siblings, point + "_df"))
    for low, high in GROUP_ENDS:
        points = [k for k, v in siblings.items() if (v is None or isinstance(v, float)) and k not in GROUP_WORDS | used
                  and not any(k in (i.se, i.df) for i in found.values())]
        if low in siblings and high in siblings and len(points) == 1:
            found[points[0]] = Interval(points[0], low, high, None, None)
    if len(found) == 1:
        (point, interval), = found.items()
        found[point] = interval._replace(se=interval.se or _present(siblings, "se"),
                                         df=interval.df or _present(siblings, "df"))
    return found


def _present(siblings: dict, key: str) -> str | None:
    return key if key in siblings else None


def interval_of(n: Number) -> Interval | None:
    """The interval whose bar a number gets: its own, the one it is an end, se or df of, or that of
    the statistic it is the plug-in or null of (FAMILY)."""
    found = intervals(n.siblings)
    for interval in found.values():
        if n.leaf in (interval.point, interval.low, interval.high, interval.se):
            return interval
    kin = FAMILY.match(n.leaf)
    return found.get(kin["a"] or kin["b"]) if kin else None


def interval_se(n: Number, interval: Interval, group: tuple | None = None) -> float | None:
    """The standard error of an interval's number: its stored se, else the wider half of the interval
    (an interval clipped at 0 or 1, or asymmetric as a bootstrap's, is honestly as wide as its wider
    side; the point is clamped into the interval, so a file whose point moved alone does not widen
    it) over Student's t at its df (or the file's, _default_df), or the normal's 1.96 without one
    (harm.json's DeLong intervals use a t of unstored df: their bar is then a little wide)."""
    se = n.get(interval.se, group) if interval.se else None
    if se is not None:
        return se
    low, high, point = (n.get(k, group) for k in (interval.low, interval.high, interval.point))
    if low is None or high is None or high < low:
        return None
    point = (low + high) / 2 if point is None else min(max(point, low), high)
    df = (n.get(interval.df, group) if interval.df else None) or _default_df(n)
    q = float(stats.t.ppf(0.975, df)) if df and df > 0 else NORMAL
    return max(high - point, point - low) / q


def _default_df(n: Number) -> float | None:
    """pie.json's intervals are paired t over the population's members (analysis.bias): members - 1."""
    members = n.run.get(n.file, "population") if n.file == "metrics/pie.json" else None
    return members - 1 if members and members > 1 else None


def _has_interval(with_se: bool) -> Callable[[Number], bool]:
    def applies(n: Number) -> bool:
        interval = interval_of(n)
        return interval is not None and (interval.se is not None and n.get(interval.se) is not None) == with_se
    return applies


def _of_interval(n: Number) -> float | None:
    return interval_se(n, interval_of(n))


def _diff_se(n: Number, group: tuple | None = None) -> float | None:
    """The standard error of the group's `diff` (a tested difference), from its interval."""
    found = intervals(n.siblings if group is None else n.run.groups[n.file].get(group, {}))
    return interval_se(n, found["diff"], group) if "diff" in found else None


# --- the rules -----------------------------------------------------------------------------------------

def _binomial(p: float, n) -> float | None:
    if not n or n <= 0:
        return None
    p = min(max(p, 0.5 / n), 1 - 0.5 / n)  # a proportion of 1 still moves by an example
    return math.sqrt(p * (1 - p) / n)


def _relative(value: float, relative: float | None) -> float | None:
    return None if relative is None else abs(value) * relative


def _spread_relative(draws) -> float | None:
    """The relative standard error of a standard deviation measured over `draws` normal values."""
    return 1 / math.sqrt(2 * (draws - 1)) if draws and draws > 1 else None


def _is_p(n: Number) -> bool:
    return n.leaf in ("p", "p_bh", "as_extreme") or n.leaf.endswith(("_p", "_p_bh"))


def _is_t(n: Number) -> bool:
    return n.leaf in ("t", "welch_t") or n.leaf.startswith("t_")


def _is_reliability(n: Number) -> bool:
    if n.file.endswith("estimate.json"):
        return n.path[0] == "reliability_spread" or (n.path[0] == "reliability" and len(n.path) == 2 and
                                                     not n.leaf.startswith(("memorization_se", "split_seed")))
    return n.file == "metrics/ttest.json" and n.path == ("reliability",)


def _reliability(n: Number) -> float | None:
    """A split-half reliability moves by its spread over further random splits; that spread (sd, over
    `splits` splits) by sd / sqrt(2 (splits - 1)); the splits' range (low, high) by the spread."""
    if n.file == "metrics/ttest.json":
        statistic = n.run.files[n.file].get(("statistic",))
        return n.run.get("metrics/estimate.json", "reliability_spread", statistic, "sd")
    statistic = n.path[1]
    sd = n.run.get(n.file, "reliability_spread", statistic, "sd")
    if n.path[0] == "reliability" or n.leaf != "sd":
        return sd
    return _relative(n.value, _spread_relative(n.run.get(n.file, "reliability_spread", "splits")))


def _hedges_g(n: Number) -> float | None:
    n1, n2, g = n.get("n"), n.get("comparison_n"), n.get("hedges_g")
    if not n1 or not n2 or g is None:
        return None
    return math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2 * (n1 + n2)))


def _mann_whitney(n: Number) -> float | None:
    n1, n2 = n.get("n"), n.get("comparison_n")
    return math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12) if n1 and n2 else None


def _welch_df(n: Number) -> float | None:
    """Welch's df is a function of the two groups' variances: at most the relative error of the
    smaller group's, sqrt(2 / (n - 1))."""
    sizes = [s for s in (n.get("n"), n.get("comparison_n")) if s]
    return _relative(n.value, math.sqrt(2 / (min(sizes) - 1))) if sizes and min(sizes) > 1 else None


def _is_derived_trials(n: Number) -> bool:
    return n.leaf == "trials_to_detect" or (len(n.path) > 1 and str(n.path[-2]).startswith("trials_for_median_se"))


def _derived_trials(n: Number) -> float | None:
    """trials_to_detect = trials (z se / diff)^2 (analysis.stats): relative standard error
    2 se(diff) / |diff|, se(diff) from the diff's interval. trials_for_median_se.<target> = trials
    (se / target)^2 (estimate.uncertainty): twice the relative error of that median se."""
    if n.leaf == "trials_to_detect":
        diff, se = n.get("diff"), _diff_se(n)
        return None if not diff or se is None else n.value * 2 * se / abs(diff)
    suffix = str(n.path[-2])[len("trials_for_median_se"):]
    median = Number(n.file, n.path[:-2] + (f"memorization_se_median{suffix}",), 0.0, n.run)
    relative = _spread_relative(_estimate_draws(median))
    return None if relative is None else n.value * 2 * relative


MEANS = {"mean": ("mean", "comparison_mean"), "comparison_mean": ("mean", "comparison_mean"),
         # pie.json's recall tests: t is on the recalls normalised by each population's accuracy (< 1),
         # so its standard error is at least the raw recalls'
         **{f"{who}_{what}": ("reference_normalised", "compressed_normalised")
            for who in ("reference", "compressed") for what in ("recall", "normalised")}}


def _is_tested_mean(n: Number) -> bool:
    return n.leaf == "raw_diff" or (n.leaf in MEANS and all(k in n.siblings for k in MEANS[n.leaf]))


def _tested_mean(n: Number) -> float | None:
    """Each of two means whose difference is tested moves by at most the difference's standard
    error: the group's diff interval, else |a - b| / |t| (Student's t); 0 where every member of both
    populations is the same (`constant`). raw_diff is the excess test's difference (../excess)."""
    if n.leaf == "raw_diff":
        return _diff_se(n, n.group[:-1] + ("excess",))
    if "diff" in n.siblings:
        return _diff_se(n)
    a, b = (n.get(k) for k in MEANS[n.leaf])
    t = n.get("t")
    if t and a is not None and b is not None:
        return abs(a - b) / abs(t)
    return 0.0 if n.siblings.get("constant") is True else None


def _design_effect(n: Number) -> float | None:
    """A ratio of mean squares over the influence-free draws (estimate.json null.draws)."""
    draws = n.run.get("metrics/estimate.json", "null", "draws")
    return _relative(n.value, math.sqrt(2 / (draws - 1))) if draws and draws > 1 else None


# The metrics files of a trial set and the estimate and spread that go with them.
ESTIMATE_OF = {"metrics/trials.json": "metrics/estimate.json",
               "metrics/consistency_trials.json": "metrics/consistency_estimate.json",
               "dvclive/trials/metrics.json": "metrics/estimate.json",
               "dvclive/consistency_trials/metrics.json": "metrics/consistency_estimate.json"}
TRIALS_OF = {"metrics/estimate.json": "metrics/trials.json",
             "metrics/consistency_estimate.json": "metrics/consistency_trials.json"}
# A population's one model (dvclive) and the population's spread of it.
POPULATION_OF = {"dvclive/reference/metrics.json": "dvclive/reference_population/metrics.json",
                 "dvclive/compress/metrics.json": "dvclive/populations/metrics.json"}


def _members(n: Number) -> float | None:
    """How many models a file's means and spreads are over: the trials, or the PIE population."""
    source = {"dvclive/trials/metrics.json": ("metrics/trials.json", "trials"),
              "dvclive/consistency_trials/metrics.json": ("metrics/consistency_trials.json", "trials"),
              "dvclive/populations/metrics.json": ("metrics/populations.json", "population"),
              "dvclive/reference_population/metrics.json": ("metrics/populations.json", "population"),
              "metrics/populations.json": ("metrics/populations.json", "population")}.get(n.file)
    return n.run.get(*source) if source else None


def _held_out_outcomes(n: Number) -> float | None:
    """Each trial's held-out examples, n_train - mean_subset_size, over the estimate's trials."""
    trials_file = TRIALS_OF.get(n.file, n.file)
    trials, subset = n.run.get(trials_file, "trials"), n.run.get(trials_file, "mean_subset_size")
    n_train = n.run.get(ESTIMATE_OF.get(n.file, n.file), "n_train")
    return None if None in (trials, subset, n_train) else trials * (n_train - subset)


def _estimate_draws(n: Number) -> float | None:
    """The trials a per-example standard error of the estimate is measured on: its smaller side (the
    trials without the example, for a subset ratio above one half)."""
    trials_file = TRIALS_OF.get(n.file, n.file)
    trials, subset = n.run.get(trials_file, "trials"), n.run.get(trials_file, "mean_subset_size")
    n_train = n.run.get(n.file, "n_train")
    if None in (trials, subset) or not n_train:
        return n.run.get(n.file, "trials")
    return trials * min(subset / n_train, 1 - subset / n_train)


def _is_members(n: Number) -> bool:
    return n.file.startswith("dvclive/") or (n.file == "metrics/compress.json" and n.leaf.endswith("accuracy"))


def _members_spread(n: Number) -> float | None:
    """compress.json's and the one-model dvclive files' numbers move as the population's members
    differ (their sd); a dvclive mean over members by sd / sqrt(members); a members' sd by
    sd / sqrt(2 (members - 1))."""
    if n.file == "metrics/compress.json":
        pops = n.run.files.get("metrics/populations.json", {})
        if n.leaf == "reference_accuracy":
            return n.run.get("metrics/populations.json", "reference", "accuracy_std")
        level = [p for p in pops if p[0] == "levels" and p[-1] == "accuracy_std" and _is_number(pops[p])]
        return pops[level[-1]] if level else None
    if n.file in POPULATION_OF:
        return n.run.get(POPULATION_OF[n.file], *n.path[:-1], f"{n.leaf}_std")
    members = _members(n)
    if n.leaf.endswith("_std"):
        return _relative(n.value, _spread_relative(members))
    sd = n.get(f"{n.leaf}_std")
    return sd / math.sqrt(members) if sd is not None and members else None


def _is_spread(n: Number) -> bool:
    return n.leaf.endswith("_std") or n.leaf == "se_median" or n.leaf.startswith("memorization_se_median")


def _spread(n: Number) -> float | None:
    """A standard deviation over a population's members, or the median of per-example standard errors
    over the trials, moves as a standard deviation of that many values."""
    draws = _members(n) if n.leaf.endswith("_std") else _estimate_draws(n)
    return _relative(n.value, _spread_relative(draws))


def _n_test(n: Number) -> float | None:
    return (n.run.get(n.file, "n_test") or n.run.get("metrics/cie.json", "n_test")
            or n.run.get(ESTIMATE_OF.get(n.file, "metrics/estimate.json"), "n_test"))


BINOMIAL = ("test_accuracy", "held_out_accuracy", "subset_accuracy", "min_subset_accuracy", "fit_fraction",
            "group_difficulty", "comparison_difficulty", "jaccard_memorization", "jaccard_pairs", "precision_at_k",
            "share")


def _is_binomial(n: Number) -> bool:
    return (n.leaf in BINOMIAL or n.leaf.endswith("accuracy") or n.leaf in ("accuracy_mean", "accuracies")
            or n.path[-2:] == ("data_oob", "mean"))


def _binomial_rule(n: Number) -> float | None:
    """A proportion of its outcomes: a mean over the trials of each trial's accuracy bounded by the
    binomial of all n * trials outcomes (the examples are fixed); one model's accuracy (or a
    population's mean) by n_test's; the held-out mean of data_oob by the held-out outcomes."""
    leaf = n.leaf
    trials, subset = n.run.get(n.file, "trials"), n.run.get(n.file, "mean_subset_size")
    if n.file in ESTIMATE_OF and leaf in ("test_accuracy", "held_out_accuracy", "subset_accuracy") and trials:
        size = {"test_accuracy": _n_test(n), "subset_accuracy": subset,
                "held_out_accuracy": None if subset is None else _held_out_outcomes(n) / trials}[leaf]
        return _binomial(n.value, None if size is None else size * trials)
    if n.path[-2:] == ("data_oob", "mean"):
        return _binomial(n.value, _held_out_outcomes(n))
    if leaf == "min_subset_accuracy":
        return _binomial(n.value, subset)
    if leaf == "fit_fraction":
        return _binomial(n.value, trials)
    if leaf in ("group_difficulty", "comparison_difficulty"):  # mean trial accuracy of the examples compared
        size = n.get("n" if leaf == "group_difficulty" else "comparison_n")
        trials_of = n.run.get("metrics/trials.json", "trials")
        return _binomial(n.value, size * trials_of) if size and trials_of else None
    if leaf.startswith("jaccard"):
        kind = {"jaccard_memorization": "memorization", "jaccard_pairs": "influence_pairs"}[leaf]
        a, b, both = (n.get(f"high_{kind}_{s}") for s in ("a", "b", "both"))
        return _binomial(n.value, a + b - both) if None not in (a, b, both) else None
    if leaf == "precision_at_k":
        return _binomial(n.value, n.get("flipped"))
    if leaf == "share":
        return _binomial(n.value, n.get("n", n.group[:-1]))
    return _binomial(n.value, _n_test(n))  # one model's accuracy on the test set


def _fisher(n: Number) -> float | None:
    size = _n_test(n)
    return (1 - n.value ** 2) / math.sqrt(size - 3) if size and size > 3 else None


def _hanley_mcneil(n: Number) -> float | None:
    """planted.auc: positives the flipped examples, negatives the other training examples."""
    positives, n_train = n.get("flipped"), n.run.get(n.file, "n_train")
    if not positives or not n_train or positives >= n_train:
        return None
    a, negatives = min(max(n.value, 1e-6), 1 - 1e-6), n_train - positives
    q1, q2 = a / (2 - a), 2 * a * a / (1 + a)
    variance = (a * (1 - a) + (positives - 1) * (q1 - a * a) + (negatives - 1) * (q2 - a * a)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def _d_mem(n: Number) -> float | None:
    """D_mem = mean over the high examples of |mem_a - mem_b|: it moves by at most as much as the two
    estimates, their median standard errors over the high examples."""
    ses = [n.run.get(f, "reliability", "memorization_se_median_high")
           for f in ("metrics/estimate.json", "metrics/consistency_estimate.json")]
    return None if None in ses else math.hypot(*ses)


def _is_count(n: Number) -> bool:
    return isinstance(n.value, int) or n.leaf == "shift_mass"


def _poisson(n: Number) -> float | None:
    """A count of found things, each an example (or pair, or class) crossing a threshold: a sum of
    Bernoullis, whose variance is at most its mean. The shift mass is moved votes over the members."""
    if n.leaf == "shift_mass":
        members = n.run.get(n.file, "population")
        return math.sqrt(max(n.value * members, 1)) / members if members else None
    return math.sqrt(max(n.value, 1))


class Rule(NamedTuple):
    kind: str  # the name of the bar (the benchmark groups the rows by it)
    applies: Callable[[Number], bool]
    standard_error: Callable[[Number], float | None]  # None: the rule's inputs are missing
    scale: str = "value"


def _leaf_is(*names: str) -> Callable[[Number], bool]:
    return lambda n: n.leaf in names


RULES = (
    Rule("z of a p-value", _is_p, lambda n: 1.0, "z"),
    Rule("t statistic", _is_t, lambda n: 1.0),
    Rule("split spread", _is_reliability, _reliability),
    Rule("Hedges' g", _leaf_is("hedges_g", "g_low", "g_high"), _hedges_g),
    Rule("Mann-Whitney U", _leaf_is("mw_u"), _mann_whitney),
    Rule("degrees of freedom", _leaf_is("df"), _welch_df),
    Rule("own se", _has_interval(True), _of_interval),
    Rule("interval", _has_interval(False), _of_interval),
    Rule("delta method", _is_derived_trials, _derived_trials),
    Rule("tested means", _is_tested_mean, _tested_mean),
    Rule("variance ratio", _leaf_is("design_effect"), _design_effect),
    Rule("members' spread", _is_members, _members_spread),
    Rule("spread of a spread", _is_spread, _spread),
    Rule("binomial", _is_binomial, _binomial_rule),
    Rule("Fisher z", _leaf_is("correlation"), _fisher),
    Rule("Hanley-McNeil", lambda n: n.path[-2:] == ("planted", "auc"), _hanley_mcneil),
    Rule("through its parts", _leaf_is("d_mem"), _d_mem),
    Rule("Poisson", _is_count, _poisson),
)


def is_exact(path: tuple, exact: frozenset[str]) -> bool:
    """A setting or what the seed decides (exact_names, by its leaf's name)."""
    return _split(path)[1] in exact


def rule_of(n: Number) -> Rule | None:
    return next((rule for rule in RULES if rule.applies(n)), None)


def standard_error(n: Number) -> tuple[float | None, Rule | None]:
    """(the standard error of a number as its run measures it, its rule); (None, rule) where the
    rule's inputs are missing, (None, None) where no rule covers it."""
    rule = rule_of(n)
    return (rule.standard_error(n) if rule else None), rule


def _combined(file: str, path: tuple, a, b, committed: Run, fresh: Run) -> tuple[float | None, Rule | None]:
    """The standard error of one run, as each run measures it: sqrt((se_a² + se_b²) / 2), so that the
    verdict is the same whichever run is called committed, and a spread of 0 in one run (every trial
    at accuracy 1) does not make the bar 0. Where only one run has it, that one."""
    found = [standard_error(Number(file, path, value, run)) for value, run in ((a, committed), (b, fresh))]
    ses = [se for se, _ in found if se is not None]
    rule = found[-1][1] or found[0][1]
    if not ses:
        return None, rule
    return math.sqrt(sum(se * se for se in ses) / len(ses)), rule


def _verdict(file: str, path: tuple, a, b, committed: Run, fresh: Run, exact: frozenset[str]) -> Row:
    key = name(path)
    same = a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
    if not (_is_number(a) and _is_number(b)) or is_exact(path, exact):
        return Row(file, key, a, b, "identical" if same else "outside", None if same else 0.0, "exact", "exact")
    se, rule = _combined(file, path, a, b, committed, fresh)
    kind, scale = (rule.kind, rule.scale) if rule else ("", "value")
    if same:
        return Row(file, key, a, b, "identical", None, scale, kind)
    if se is None:
        return Row(file, key, a, b, "no error bar", None, scale, kind)
    difference = abs(_z(a) - _z(b)) if scale == "z" else abs(a - b)
    return Row(file, key, a, b, "within" if difference <= Z * se else "outside", Z * se, scale, kind)


def _z(p: float) -> float:
    """A two-sided p-value as the normal quantile it corresponds to (p 0.05 -> 1.96)."""
    return float(stats.norm.isf(min(max(p, 1e-300), 1.0) / 2))


def compare(committed: dict[str, dict], fresh: dict[str, dict], settings: frozenset[str] = frozenset()) -> list[Row]:
    """A Row for every number (and every other leaf) of the metrics files of either run; `settings`
    the knobs' names (params.knobs()), judged exact."""
    old_run, new_run = Run.of(committed), Run.of(fresh)
    exact = exact_names(settings)
    rows = []
    for file in sorted(old_run.files.keys() | new_run.files.keys()):
        old, new = old_run.files.get(file, {}), new_run.files.get(file, {})
        for path in sorted(old.keys() | new.keys(), key=name):
            if path not in new or path not in old:
                rows.append(Row(file, name(path), old.get(path), new.get(path), "missing" if path not in new else "new",
                                None, "value"))
            else:
                rows.append(_verdict(file, path, old[path], new[path], old_run, new_run, exact))
    return rows
