"""The run's report: markdown from the stages' metrics (plain dicts), with the figures embedded and
each test read in plain words. Pure: the report stage loads the files and writes the result."""

from longtail.analysis.cie import GROUPS
from longtail.train.fitted import fit_warning, until_warning

STATISTIC = {"mean_influence": "mean influence of the training examples on it",
             "max_influence": "largest influence of any one training example on it",
             "top_memorization": "memorization of its most influential training example"}


def number(value, spec=".3g") -> str:
    return "n/a" if value is None else format(value, spec)


def interval(value, low, high, spec=".3g") -> str:
    """`value [low, high]` in one format, or n/a where there is no value."""
    return "n/a" if value is None else f"{value:{spec}} [{number(low, spec)}, {number(high, spec)}]"


def table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def answers(kind: str, r: dict, alpha: float) -> str:
    """A group's two answers in plain words: Q1 (`excess`: beyond the estimator's noise), then Q2
    (`matched`: at equal difficulty), each with its interval and p."""
    name = GROUPS.get(kind, kind)
    q1, q2 = r.get("excess") or {}, r.get("matched") or {}
    if not q1:
        return f"**{name}**: no answer to the two questions in these metrics (rerun the ttest stage)."
    if q1.get("p") is None:
        n = q1.get("n", 0)
        return f"**{name}**: {n} example{'' if n == 1 else 's'}, too few to answer."
    return f"**{name}** {_beyond_noise(q1, alpha)} {_at_equal_difficulty(q2, alpha)}"


def judged(q: dict) -> float | None:
    """The p a verdict follows: the confirmatory test's own, an exploratory one's adjusted across its
    family (analysis.questions.family); an answer without a role (older metrics) its own."""
    return q.get("p_bh") if q.get("role") == "exploratory" else q.get("p")


def _interval(q: dict, alpha: float) -> str:
    words = f"{_diff(q)}, p = {number(q['p'])}"
    if q.get("role") == "exploratory":
        words += f", adjusted across the {q['family']} exploratory tests {number(q['p_bh'])}"
        if q["p"] <= alpha < q["p_bh"]:
            words += f" (not significant after adjusting for the {q['family']} tests of its family)"
    elif q.get("role") == "confirmatory":
        words += ", the confirmatory test, unadjusted"
    return words


def _beyond_noise(q: dict, alpha: float) -> str:
    p = judged(q)
    verdict = (f"are {'more' if q['diff'] > 0 else 'less'} influenced than" if p <= alpha else
               "are not shown to be more influenced than")
    words = (f"{verdict} agreeing examples beyond the estimator's noise: {_interval(q, alpha)} ({q['n']} against "
             f"{q['comparison_n']}, each example's excess over its influence-free null).")
    if p > alpha and q.get("trials_to_detect"):
        words += (f" A difference this size would need at least {q['trials_to_detect']} trials to be found "
                  "(80% power).")
    return words


def _at_equal_difficulty(m: dict, alpha: float) -> str:
    if m.get("p") is None:
        return "At equal difficulty: too few to compare."
    verdict = (f"they are {'more' if m['diff'] > 0 else 'less'} influenced" if judged(m) <= alpha else
               "they are not shown to be more influenced")
    used = (f"{m['extrapolated']} of the {m['n']} outside the agreeing examples' difficulties, extrapolated"
            if m.get("extrapolated") else f"all {m['n']} used")
    return f"At equal difficulty {verdict}: {_interval(m, alpha)} ({used})."


def reading(kind: str, r: dict, alpha: float, statistic: str) -> str:
    """One test in plain words: direction, significance (Student's, then whether the tests without its
    assumptions agree), effect size and the random-set control."""
    name = GROUPS.get(kind, kind)
    if r.get("t") is None:
        n = r.get("n", 0)
        return f"**{name}**: {n} example{'' if n == 1 else 's'}, too few to test."
    higher = "higher" if r["mean"] > r["comparison_mean"] else "lower"
    significant = r["p"] <= alpha
    words = [f"**{name}**: {r['n']} examples. Their {statistic.replace('_', ' ')} is {higher} than on the "
             f"{r['comparison_n']} others ({number(r['mean'])} against {number(r['comparison_mean'])}); Student's t = "
             f"{r['t']:.2f}, p = {number(r['p'])} (Benjamini-Hochberg {number(r.get('p_bh'))}): "
             + ("significant" if significant else "not significant") + f" at α = {alpha}."]
    others = {"Welch's t": r["welch_p"] <= alpha, "Mann-Whitney U": r["mw_p"] <= alpha}
    agree = [test for test, s in others.items() if s == significant]
    disagree = [test for test, s in others.items() if s != significant]
    if disagree:
        words.append(f"{' and '.join(disagree)} (no equal variances, no normality assumed) "
                     f"{'disagree' if len(disagree) > 1 else 'disagrees'} (Welch p = {number(r['welch_p'])}, "
                     f"Mann-Whitney p = {number(r['mw_p'])}): read the result with care.")
    elif agree:
        words.append(f"Welch's t and Mann-Whitney U agree (p = {number(r['welch_p'])} and {number(r['mw_p'])}).")
    if r["g_low"] is None or r["g_high"] is None:  # no spread to resample
        words.append(f"Hedges' g = {number(r['hedges_g'], '.2f')}; no interval (no spread within either side).")
    else:
        zero_in = r["g_low"] <= 0 <= r["g_high"]
        words.append(f"Hedges' g = {r['hedges_g']:.2f}, 95% interval [{r['g_low']:.2f}, {r['g_high']:.2f}] (noncentral t)"
                     + (", which includes 0." if zero_in else ", which excludes 0."))
    control = r.get("control") or {}
    if control.get("as_extreme") is not None:
        words.append(f"Of {control['draws']} random sets of {r['n']} test examples, a share of "
                     f"{control['as_extreme']:.3f} look as extreme (random t between {control['t_low']:.2f} and "
                     f"{control['t_high']:.2f} in 95% of draws).")
    rare = r.get("rare")
    if rare and rare.get("share") is not None:
        words.append(f"Known rare examples make up {rare['share']:.0%} of the group against {rare['overall_share']:.0%} "
                     f"of the test set (Fisher's exact p = {number(rare['fisher_p'])}).")
    return " ".join(words)


def markdown(*, params: dict, trials: dict, estimate: dict, compress: dict, cie: dict, ttest: dict, pie: dict,
             harm: dict, consistency: dict, figures: dict[str, str]) -> str:
    """The whole report. `figures` maps a caption to a path relative to the report."""
    alpha = params["ttest"]["alpha"]
    statistic = ttest["statistic"]
    c = compress
    warning = fit_warning(trials, params["trials"]["fit_threshold"])
    parts = [
        "# longtail report",
        "Generated by `dvc repro` (stage `report`) from this run's metrics; do not edit by hand.",
        *([f"> **The memorization estimates of this run are not meaningful:** {warning}."] if warning else []),
        *([f"> **The stopping rule was not met:** {unmet}."] if (unmet := until_warning(trials)) else []),
        "## Data and trials",
        f"Dataset **{params['data']['dataset']}**: {estimate['n_train']} training and {estimate['n_test']} test "
        f"examples. {trials['trials']} trials of **{params['trials']['arch']}**, each on a random "
        f"{params['trials']['subset_ratio']:.0%} subset ({params['trials']['mask']} masks): accuracy "
        f"{trials['subset_accuracy']:.4f} on their own subsets ({trials['fit_fraction']:.0%} fit them to "
        f"{params['trials']['fit_threshold']}), {trials['held_out_accuracy']:.4f} on the training examples they "
        f"left out, {trials['test_accuracy']:.4f} on the test set.",
        *_stopped(trials),
        "## Estimator (Feldman & Zhang 2020)",
        _target(estimate.get("target", "correct")),
        table(["quantity", "value"], [
            ["mean memorization", number(estimate["memorization_mean"], ".4f")],
            [f"training examples with memorization ≥ {params['estimate']['pair_memorization']}",
             estimate["high_memorization"]],
            [f"high-influence pairs (influence ≥ {params['estimate']['pair_influence']})",
             estimate["high_influence_pairs"]],
            ["training examples in every trial or none (undefined)", estimate["undefined_train_examples"]],
            ["mean of test_mean_influence", number(estimate["test_mean_influence_mean"], ".3g")],
        ]),
        *_uncertainty(estimate),
        *_planted(estimate.get("planted"), params["data"].get("flip_labels", 0)),
        "## Compression",
        f"**{c['method']}** with recovery loss **{c['loss']}**: test accuracy {c['reference_accuracy']:.4f} → "
        f"{c['compressed_accuracy']:.4f}; FLOPs ×{c['flops_ratio']:.2f}, nonzero parameters "
        f"×{c['parameters_ratio']:.2f}, size on disk ×{c['size_ratio']:.2f}.",
        "## Compression impacted exemplars",
        table(["CIE", "CIE-U", "CIE-C", "both wrong", "agree", "PIE", "most shifted"],
              [[cie["cie"], cie["cie_u"], cie["cie_c"], cie["cie_both_wrong"], cie["agree"], pie["pie"], pie["shifted"]]]),
        f"## Are they more influenced? (`ttest.statistic: {statistic}`)",
        f"For each test example the tested quantity is the {STATISTIC[statistic]}"
        + ("" if ttest.get("reliability") is None else
           f" (split-half reliability {ttest['reliability']:.3f})") + ". " + _label(statistic) +
        "Every influence statistic grows with how often the trials disagree on an example, even where no training "
        "example influences it: that is the estimator's noise, and CIEs are examples the trials often get wrong. So "
        "each example's statistic is measured against its influence-free null (the same trials with their test "
        "correctness permuted against the masks) and two questions are asked of that excess. **Q1** (the paper's "
        "question): are the group's examples more influenced than the agreeing ones, beyond the estimator's noise? "
        "**Q2**: are they more influenced than agreeing examples of the same difficulty (trial accuracy)?"
        + _null_line(estimate.get("null"), statistic),
        _family(ttest, alpha),
        *(answers(k, r, alpha) for k, r in ttest.items() if isinstance(r, dict)),
        table(["group", "n", "Q1: excess [95%]", "p", "p (BH)", "Q2: at equal difficulty [95%]", "p", "p (BH)",
               "extrapolated"],
              [[k, r["n"], _diff((r.get("excess") or {})), _p((r.get("excess") or {}), alpha),
                number((r.get("excess") or {}).get("p_bh")), _diff(r.get("matched") or {}),
                _p(r.get("matched") or {}, alpha), number((r.get("matched") or {}).get("p_bh")),
                (r.get("matched") or {}).get("extrapolated", "n/a")]
               for k, r in ttest.items() if isinstance(r, dict)]),
        f"\\* the verdict's p ≤ α = {alpha} (the confirmatory test's own p, the others' adjusted). Each standard error is widened by its design effect (how much shared or skewed "
        "noise widens it, measured on the influence-free draws; `design_effect` in metrics/ttest.json, null where "
        "too few draws had a spread to measure it).",
        "### The paper's test (Student's t on the raw statistic; confounded by the estimator's noise)",
        "Each group against the test examples outside it where the models agree, whatever their difficulty, as "
        "Dam et al. (2023) test it. It answers whether the raw statistic differs, which the estimator's noise alone "
        "makes it do for hard examples: read Q1 and Q2 above for whether they are more influenced.",
        table(["group", "n", "mean", "others' mean", "Student t", "p", "p (BH)", "Welch p", "Mann-Whitney p",
               "Hedges' g [95% CI]", "random sets as extreme"],
              [[k, r["n"], number(r["mean"]), number(r["comparison_mean"]), number(r["t"], ".2f"),
                number(r["p"]) + ("*" if _significant(r["p"], alpha) else ""), number(r.get("p_bh")),
                number(r["welch_p"]), number(r["mw_p"]),
                interval(r["hedges_g"], r["g_low"], r["g_high"], ".2f"),
                number((r.get("control") or {}).get("as_extreme"))]
               for k, r in ttest.items() if isinstance(r, dict)]),
        f"\\* p ≤ α = {alpha}.",
        *(reading(k, r, alpha, statistic) for k, r in ttest.items() if isinstance(r, dict)),
        "## Pruning identified exemplars (Hooker et al. 2019)",
        f"Populations of {pie['population']} reference and {pie['population']} compressed models.",
        table(["level", "PIEs", "reference accuracy", "compressed accuracy",
               "classes affected (paired t, p adjusted across classes ≤ α)"],
              [[label, lv["pie"], number(lv["reference_accuracy"], ".4f"), number(lv["compressed_accuracy"], ".4f"),
                ", ".join(map(str, lv["affected_classes"])) or "none"] for label, lv in pie["levels"].items()]),
        *_graded(pie),
        *_beyond_cheap(harm, alpha),
        "## Consistency across architectures (Feldman & Zhang 2020)",
        _consistency(consistency),
        "## Figures",
        *(f"### {caption}\n\n![{caption}]({path})" for caption, path in figures.items()),
    ]
    return "\n\n".join(parts) + "\n"


def _family(ttest: dict, alpha: float) -> str:
    """Which test decides, and how the others are adjusted (analysis.questions.family)."""
    sizes = {q.get("family") for r in ttest.values() if isinstance(r, dict)
             for q in (r.get("excess") or {}, r.get("matched") or {}) if q.get("role") == "exploratory"}
    size = next(iter(sizes), None)
    return (f"**Which test decides.** Q1 for the CIEs is the confirmatory test (the paper's question), judged at "
            f"α = {alpha} on its own p. Q1 for the other groups and Q2 for every group are exploratory: "
            f"Benjamini-Hochberg adjusted as one family{'' if size is None else f' of {size} tests'}, and each of "
            "their sentences follows its adjusted p (the p (BH) columns; the confirmatory test's is its own p). "
            "The paper's raw t below is reported for comparison, adjusted across the groups apart.")


def _significant(p, alpha: float) -> bool:
    return p is not None and p <= alpha


def _diff(q: dict) -> str:
    return interval(q.get("diff"), q.get("diff_low"), q.get("diff_high"), "+.3g")


def _p(q: dict, alpha: float) -> str:
    """The p, starred where the verdict (judged) holds at alpha."""
    return number(q.get("p")) + ("*" if _significant(judged(q), alpha) else "")


def _null_line(summary: dict | None, statistic: str) -> str:
    """How much of the statistic the influence-free null explains (metrics/estimate.json's `null`)."""
    s = (summary or {}).get(statistic) or {}
    if s.get("correlation") is None:
        return ""
    return (f" In this run the statistic correlates {s['correlation']:.2f} with its influence-free null across "
            f"test examples ({summary['draws']} permutations): that much of its ranking is the trials' disagreement.")


def _label(statistic: str) -> str:
    """What the seed paper's statistic is, said wherever it is tested."""
    if statistic != "mean_influence":
        return ""
    return ("It is the seed paper's statistic, kept for fidelity: summed over the training examples, the two masked "
            "averages of influence cancel except through the spread of the subset sizes, so it measures the slope of "
            "the example's correctness on its trial's subset size (docs/questions.md in longtail's manual), not how much any training example "
            "influences it. ")


def _uncertainty(estimate: dict) -> list[str]:
    r = estimate.get("reliability")
    spread_of = estimate.get("reliability_spread", {})
    if not r:
        return []

    def spread(suffix: str) -> str:  # the median standard error, and the trials it needs
        median, need = r.get(f"memorization_se_median{suffix}"), r.get(f"trials_for_median_se{suffix}", {})
        if median is None:
            return "undefined"
        if median == 0:
            return "0 (most of them are right in every trial, or wrong in every trial: nothing varies)"
        return f"{median:.3f}, which would reach " + " and ".join(
            f"{target} at about {n} trials" for target, n in need.items())

    return [
        "### How far to trust them",
        f"Split-half reliability: the {estimate['trials']} trials split at random in two halves (seed "
        f"{r['split_seed']}), each estimate computed on each half, and the correlation of the two across "
        "examples. Near 1 the estimate describes the examples; near 0 it is noise of the trials. It is the "
        "reliability of half the trials; all of them do better (Spearman-Brown: 2r / (1 + r)).",
        *([f"The spread column is that of {spread_of['splits']} further random splits of the same trials "
           "(standard deviation, and the range): a reliability that moves this much between splits moves as "
           "much between two runs of the trials, on two machines say.",
           table(["estimate", "split-half reliability", "spread: sd (range)"],
                 [[name, number(r[name], ".3f"), _spread(spread_of.get(name))] for name in ("memorization", *STATISTIC)])]
          if spread_of else
          [table(["estimate", "split-half reliability"],
                 [[name, number(r[name], ".3f")] for name in ("memorization", *STATISTIC)])]),
        "Each memorization estimate has a standard error, from the two means it subtracts "
        "(`memorization_se.npy`; binomial for the 0/1 target); it shrinks as 1/√trials. Its median over all "
        f"training examples is {spread('')}. Over the {estimate['high_memorization']} high-memorization examples "
        f"it is {spread('_high')}.",
        *_counterfactual(estimate.get("lds")),
        *_estimators(estimate),
    ]


def _target(target: str) -> str:
    what = {"correct": "whether each trial classifies each example right (0/1), the paper's target",
            "probability": "the probability each trial gives each example's label (estimate.target)",
            "margin": "the margin each trial gives each example's label, its logit minus the largest other, in logits "
                      "(estimate.target); memorization, influence and their thresholds are in those units"}[target]
    return f"The estimator averages {what}."


def _stopped(trials: dict) -> list[str]:
    stop = trials.get("until") or {}
    if stop.get("until") is None or not stop.get("met"):
        return []  # an unmet rule is said at the top
    return [f"`trials.until` ({stop['until']}) was met after {stop['trials']} of the {stop['count']} budgeted trials "
            f"({number(stop['value'], '.3f')}): the run stopped there."
            + (f" The rule judged its own split of the trials (seed {stop['split_seed']}), not the one whose "
               "reliability is published below, so that value is not >= the threshold by construction."
               if stop.get("split_seed") is not None else "")]


def _counterfactual(lds: dict | None) -> list[str]:
    if not lds or lds["lds"] is None:
        return []
    bounds = "" if lds["low"] is None else f" [{lds['low']:.3f}, {lds['high']:.3f}] (95%, jackknife over the trials)"
    return [
        "### Does the matrix predict what happens when the data changes?",
        f"{lds['held_out']} trials were held out; the influence matrix of the others predicted each held-out trial's "
        "outcome on each test example from its subset alone (the sum of the influences of the training examples it "
        "kept). The linear datamodeling score, the mean over test examples of the Spearman correlation of predicted "
        f"and actual outcomes, is **{lds['lds']:.3f}**{bounds}, over the {lds['examples']} test examples whose "
        "held-out outcomes vary. 0 is a matrix that predicts nothing (random noise scores 0 on average); "
        "split-half reliability cannot tell the two apart.",
    ]


def _estimators(estimate: dict) -> list[str]:
    if "data_oob" not in estimate:
        return []
    oob, banzhaf, target = estimate["data_oob"], estimate["banzhaf"], estimate.get("target", "correct")
    what = "accuracy" if target == "correct" else f"mean {target}"
    return [f"The field's other estimators from the same masks, per training example (`data_oob.npy`, "
            f"`banzhaf.npy`, with standard errors): Data-OOB (its {what} in the trials that left it out; mean "
            f"{oob['mean']:.3f}, median standard error {oob['se_median']:.3g}) and "
            f"the MSR estimate of its Banzhaf value for the trials' test {what} (weighted, p = the subset ratio; "
            f"the Banzhaf value of pyDVL's MSR at 0.5; mean {banzhaf['mean']:.3g}, median standard error "
            f"{banzhaf['se_median']:.3g})."]


def _spread(spread: dict | None) -> str:
    if not spread or spread["sd"] is None:
        return "n/a"
    return f"{spread['sd']:.3f} ({spread['low']:.3f} to {spread['high']:.3f})"


def _planted(found: dict | None, share: float) -> list[str]:
    if not found:
        return []
    auc = found["auc"]
    verdict = ("Memorization finds them: the recipe memorizes." if auc is not None and auc >= 0.95 else
               "Memorization does **not** find them reliably (AUC < 0.95): the trials do not memorize what they "
               "cannot generalize, so the estimates of this recipe miss the long tail.")
    return [
        "### Planted truth: flipped labels",
        f"`data.flip_labels` = {share}: {found['flipped']} training labels were moved to another class. A "
        "mislabeled example can be fit only by memorizing it, so its memorization should be near 1. " + verdict,
        table(["quantity", "value"], [
            ["flipped labels", found["flipped"]],
            ["AUC of memorization, flipped against clean", number(auc, ".3f")],
            [f"precision at {found['flipped']} (share flipped among the most memorized)",
             number(found["precision_at_k"], ".3f")],
            ["mean memorization, flipped / clean",
             f"{number(found.get('memorization_flipped'), '.3f')} / {number(found.get('memorization_clean'), '.3f')}"],
            ["accuracy of the trials on the flipped examples they trained on", number(found.get("fit_flipped"), ".3f")],
            *([["AUC of Data-OOB (low: flipped), flipped against clean", number(found["data_oob_auc"], ".3f")]]
              if "data_oob_auc" in found else []),
        ]),
    ]


def _consistency(c: dict) -> str:
    return (f"Trials of **{c['arch_a']}** against **{c['arch_b']}** on the same data: Jaccard similarity "
            f"{number(c['jaccard_memorization'], '.3f')} of the high-memorization sets ({c['high_memorization_a']} and "
            f"{c['high_memorization_b']} examples), {number(c['jaccard_pairs'], '.3f')} of the high-influence pairs "
            f"({c['high_influence_pairs_a']} and {c['high_influence_pairs_b']}); mean absolute difference of "
            f"memorization over the union of the high-memorization sets D_mem = {number(c['d_mem'], '.3f')}.")


def _graded(pie: dict) -> list[str]:
    """Graded CIEs and the field's bias metrics (analysis.bias), per level."""
    def metric(lv, name):
        return interval(lv[name], lv[f"{name}_low"], lv[f"{name}_high"])

    def floor(lv, name):  # the plug-in against what two populations of one recipe give
        return (f"{number(lv.get(f'{name}_plugin'))} vs {number(lv.get(f'{name}_null'))}, "
                f"p = {number(lv.get(f'{name}_p'))}")

    def change(b, name):
        return interval(b[f"{name}_diff"], b[f"{name}_diff_low"], b[f"{name}_diff_high"], "+.3f")

    def rare(lv):
        r = lv.get("shifted_rare")
        return [] if r is None else [number(r["share"], ".2f"), number(r["fisher_p"])]

    synthetic = any("shifted_rare" in lv for lv in pie["levels"].values())
    label, lv = list(pie["levels"].items())[-1]  # the level that goes on
    return [
        "### Graded CIEs and class bias (Hooker et al. 2020; Blakeney et al. 2021)",
        "Each test example's taxicab shift is the L1 distance between the two populations' label distributions (0: "
        "they vote alike; 2: no label in common). The shift mass sums it over the test set, halved: how many test "
        f"examples' worth of votes the compression moved. The most shifted are the top {pie['shifted_share']:.0%} "
        "of the test set (ttest's group `shifted`). CEV and SDE summarise how unevenly the classes' false-positive "
        "and false-negative rates moved (relative changes). Both are non-negative, so Blakeney et al.'s plug-in sits "
        "above the truth from member noise alone: the table gives the jackknife's bias-corrected estimate with its "
        "95% interval (clipped at 0, and holding 0 wherever no change cannot be rejected), then the plug-in against "
        "its noise floor, the mean plug-in of two populations of one recipe (each pair's members exchanged), with the "
        "p of the plug-in against it: is the CEV beyond what noise alone gives"
        + (f"; classes {', '.join(map(str, pie['undefined_classes']))} had a reference rate of 0 (no false "
           "positives or no false negatives), hence no relative change, and are left out"
           if pie.get("undefined_classes") else "") + ").",
        table(["level", "shift mass", "most shifted", "CEV [95%]", "CEV plug-in vs noise floor", "SDE [95%]",
               "SDE plug-in vs noise floor", *(["rare share of the most shifted", "Fisher p"] if synthetic else [])],
              [[label, number(lv["shift_mass"], ".1f"), lv["shifted"], metric(lv, "cev"), floor(lv, "cev"),
                metric(lv, "sde"), floor(lv, "sde"), *rare(lv)] for label, lv in pie["levels"].items()]),
        f"Per class at level {label}: the change of the population's mean recall and false-positive rate, with "
        "the paired 95% interval over the members (compressed member m is reference member m compressed) and the "
        "p adjusted across the classes (Benjamini-Hochberg; exploratory).",
        table(["class", "recall change [95%]", "p (BH)", "false-positive rate change [95%]", "p (BH)"],
              [[c, change(b, "recall"), number(b.get("recall_p_bh")), change(b, "fpr"), number(b.get("fpr_p_bh"))]
               for c, b in lv["bias"].items()]),
    ]


HARM_TARGETS = {"cie": "the CIEs", "shifted": "the most shifted"}


def _beyond_cheap(harm: dict, alpha: float) -> list[str]:
    """Does memorization predict the harm beyond cheap signals (analysis.harm), in a table and words."""
    def auc(a):
        return interval(a["auc"], a["low"], a["high"], ".3f")

    targets = [t for t in HARM_TARGETS if t in harm]
    rows = [[signal, *(auc(harm[t]["alone"][signal]) for t in targets)] for signal in (*harm["cheap"], *harm["influence"])]
    rows += [[f"**{name}** (cross-validated)", *(auc({"auc": harm[t]["added"][key], "low": harm[t]["added"].get(f"{key}_low"),
                                                      "high": harm[t]["added"].get(f"{key}_high")}) for t in targets)]
             for name, key in (("cheap signals", "cheap"), ("cheap + influence", "both"))]
    words = []
    for t in targets:
        a = harm[t]["added"]
        if a["delta"] is None:
            words.append(f"- {HARM_TARGETS[t]} ({harm[t]['n']}): too few to cross-validate.")
            continue
        verdict = "add to" if a["p"] <= alpha else "are not shown to add to"
        words.append(f"- {HARM_TARGETS[t]} ({harm[t]['n']} of {harm[t]['of']}): the influence statistics {verdict} the "
                     f"cheap signals beyond influence-free statistics of the same examples: AUC {a['cheap']:.3f} → "
                     f"{a['both']:.3f}, {interval(a['delta'], a['delta_low'], a['delta_high'], '+.3f')}, against "
                     f"{a['null_delta_mean']:+.3f} on average for the {a['draws']} influence-free draws (p = {a['p']:.3g}, "
                     f"smallest possible {1 / (1 + a['draws']):.2g}).")
    return ["### Does memorization predict the harm beyond cheap signals?",
            "Each signal's AUC for being harmed, oriented so that 0.5 says nothing (a low margin, a high loss, a low "
            "agreement or trial accuracy, a high EL2N or forgetting count, a high influence point to harm), with "
            "DeLong's 95% interval; then logistic models of the cheap signals and of the cheap signals with the "
            f"influence statistics, their AUC from {harm['folds']}-fold cross-validation. The added value is tested "
            "against the same model with the estimate's influence-free draws in place of the statistics: does "
            "influence predict the harm better than the estimator's noise on the same examples would?",
            table(["signal", *(f"AUC for {HARM_TARGETS[t]} [95%]" for t in targets)], rows), *words]
