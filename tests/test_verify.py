"""`longtail verify` (make verify): a fresh run's metrics against the committed ones, each number
identical, within its error bar or outside it; exit 1 only for the last."""

import json
import subprocess
import sys

import pytest

from longtail.analysis import stats
from longtail import params
from longtail.report import verify

KNOBS = params.knobs()

ESTIMATE = {"trials": 100, "n_train": 1000, "n_test": 200,
            "reliability": {"split_seed": 0, "top_memorization": 0.47},
            "reliability_spread": {"splits": 20, "top_memorization": {"sd": 0.1, "low": 0.45, "high": 0.85}}}
TRIALS = {"trials": 100, "mean_subset_size": 700.0, "test_accuracy": 0.9600, "held_out_accuracy": 0.95}
TTEST = {"statistic": "top_memorization", "reliability": 0.47,
         "cie": {"t": 10.9, "p": 4e-24, "n": 5, "comparison_n": 354, "hedges_g": 4.9, "mw_u": 1736.0,
                 "matched": {"diff": -0.05, "diff_low": -0.1, "diff_high": 0.0}}}


def run(**files):
    return {name.replace("__", "/").replace("_json", ".json"): data for name, data in files.items()}


def verdicts(committed: dict, fresh: dict) -> dict:
    return {(r.file, r.key): r.verdict for r in verify.compare(committed, fresh, KNOBS)}


def test_two_runs_of_the_same_experiment_are_within_the_error_bars_the_run_measured():
    committed = {"metrics/estimate.json": ESTIMATE, "metrics/trials.json": TRIALS, "metrics/ttest.json": TTEST}
    fresh = json.loads(json.dumps(committed))
    fresh["metrics/estimate.json"]["reliability"]["top_memorization"] = 0.65  # 1.8 sd of its split spread
    fresh["metrics/ttest.json"]["reliability"] = 0.65
    fresh["metrics/trials.json"]["test_accuracy"] = 0.9605  # binomial of 200 x 100 outcomes: se 0.0014
    fresh["metrics/ttest.json"]["cie"] |= {"t": 10.0, "p": 3e-22, "hedges_g": 4.5, "mw_u": 1600.0}
    found = verdicts(committed, fresh)
    assert found[("metrics/estimate.json", "reliability.top_memorization")] == "within"
    assert found[("metrics/ttest.json", "reliability")] == "within"
    assert found[("metrics/trials.json", "test_accuracy")] == "within"
    assert {found[("metrics/ttest.json", f"cie.{k}")] for k in ("t", "p", "hedges_g", "mw_u")} == {"within"}
    assert found[("metrics/trials.json", "trials")] == "identical"


@pytest.mark.parametrize("file, key, value", [
    ("metrics/estimate.json", "reliability.top_memorization", 0.05),  # 4.2 sd of its spread
    ("metrics/trials.json", "test_accuracy", 0.95),  # 7 binomial standard errors
    ("metrics/ttest.json", "cie.t", 5.0),  # a t statistic moves by about 1
    ("metrics/ttest.json", "cie.p", 0.01),  # z 10.1 -> 2.6
    ("metrics/ttest.json", "cie.matched.diff", 0.1),  # 5.9 standard errors of its interval
    ("metrics/trials.json", "trials", 101),  # a setting: exact
    ("metrics/trials.json", "mean_subset_size", 700.5),  # decided by the seeded masks: exact
])
def test_a_number_that_moved_more_than_two_runs_do_is_outside(file, key, value):
    committed = {"metrics/estimate.json": ESTIMATE, "metrics/trials.json": TRIALS, "metrics/ttest.json": TTEST}
    fresh = json.loads(json.dumps(committed))
    *parents, leaf = key.split(".")
    node = fresh[file]
    for part in parents:
        node = node[part]
    node[leaf] = value
    found = verdicts(committed, fresh)
    assert found[(file, key)] == "outside"
    assert sum(v == "outside" for v in found.values()) == 1


def test_a_number_without_an_error_bar_is_said_so_and_a_missing_one_counts_against():
    committed = {"metrics/estimate.json": ESTIMATE | {"memorization_mean": 0.026}}
    fresh = {"metrics/estimate.json": {k: v for k, v in ESTIMATE.items() if k != "n_test"} | {"memorization_mean": 0.027}}
    found = verdicts(committed, fresh)
    assert found[("metrics/estimate.json", "memorization_mean")] == "no error bar"
    assert found[("metrics/estimate.json", "n_test")] == "missing"


@pytest.fixture
def repository(tmp_path):
    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics/trials.json").write_text(json.dumps(TRIALS))
    (tmp_path / "metrics/estimate.json").write_text(json.dumps(ESTIMATE))
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "run")
    return tmp_path


def longtail_verify(path):
    result = subprocess.run([sys.executable, "-m", "longtail", "verify"], cwd=path, capture_output=True, text=True)
    return result.returncode, " ".join(result.stderr.split())


def test_the_command_passes_a_run_within_its_error_bars_and_fails_one_outside(repository):
    code, said = longtail_verify(repository)
    assert code == 0 and said.endswith("13 numbers against HEAD: 13 identical")
    (repository / "metrics/trials.json").write_text(json.dumps(TRIALS | {"test_accuracy": 0.9610}))
    code, said = longtail_verify(repository)
    assert code == 0 and "within metrics/trials.json test_accuracy: 0.96 -> 0.961 (error bar ±0.00382)" in said
    (repository / "metrics/trials.json").write_text(json.dumps(TRIALS | {"test_accuracy": 0.90}))
    code, said = longtail_verify(repository)
    assert code == 1 and "outside metrics/trials.json test_accuracy: 0.96 -> 0.9" in said
    assert said.endswith("1 outside")


ENV = {"longtail": "0.1.0", "python": "3.11.7", "torch": "2.14.1+cu130", "cuda": "13.0", "numpy": "2.4.6",
       "os": "Linux x86_64", "cpu": "AMD EPYC 7B13", "cpus": 2, "gpu": None}


def test_verify_names_both_environments_and_what_differs_before_it_judges_and_judges_none_of_them(repository):
    code, said = longtail_verify(repository)
    assert "committed (HEAD): not recorded" in said and "this workspace: not recorded" in said
    (repository / "metrics/environment.json").write_text(json.dumps(ENV))
    subprocess.run(["git", "add", "metrics/environment.json"], cwd=repository, check=True)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "env"], cwd=repository,
                   check=True)
    code, said = longtail_verify(repository)
    assert code == 0 and "the same environment: every number should be identical" in said
    assert "longtail 0.1.0, Python 3.11.7, torch 2.14.1+cu130, numpy 2.4.6; AMD EPYC 7B13 (2 CPUs), no GPU" in said
    (repository / "metrics/environment.json").write_text(json.dumps(ENV | {"torch": "2.15.0", "gpu": "NVIDIA H100"}))
    code, said = longtail_verify(repository)
    assert code == 0 and "the environments differ (torch, gpu): expect numbers within their error bars" in said
    assert said.index("differ") < said.index("numbers against HEAD") and said.endswith("13 identical")


# --- every number with its own interval or standard error is judged by it ----------------------------

EXCESS = {"p": 0.0266, "diff": 0.1751, "diff_low": 0.0331, "diff_high": 0.3171, "se": 0.0512, "df": 4.01, "n": 5,
          "comparison_n": 354, "mean": 0.1840, "comparison_mean": 0.0089, "design_effect": 1.0, "p_bh": 0.0533,
          "role": "confirmatory", "family": 1}
GROUP = {"t": 10.86, "p": 6.2e-24, "welch_t": 5.35, "welch_p": 0.0058, "mw_u": 1738.0, "mw_p": 1.9e-07,
         "hedges_g": 4.88, "g_low": 3.27, "g_high": 7.51, "n": 5, "comparison_n": 354, "mean": 0.2921,
         "comparison_mean": 0.0158, "p_bh": 1.2e-23,
         "control": {"draws": 1000, "as_extreme": 0.001, "t_median": -0.45, "t_low": -0.64, "t_high": 3.15},
         "excess": EXCESS | {"trials_to_detect": stats.trials_to_detect(1000, EXCESS["se"], EXCESS["diff"], 0.05)},
         "matched": {"p": 0.39, "diff": 0.0633, "diff_low": -0.0813, "diff_high": 0.2079, "se": 0.0735, "df": 342,
                     "knots": 8, "n": 5, "extrapolated": 0, "comparison_n": 354, "group_difficulty": 0.3872,
                     "comparison_difficulty": 0.9698, "raw_diff": 0.1751, "design_effect": 1.87, "p_bh": 0.78}}
MODEL = {"trials": 1000, "target": "correct", "n_train": 1438, "n_test": 359, "dtype": "float32",
         "undefined_train_examples": 0, "influence_nan": 0, "memorization_mean": 0.0266, "high_memorization": 48,
         "test_mean_influence_mean": 1.99e-05, "high_influence_pairs": 17,
         "reliability": {"split_seed": 0, "max_influence": 0.981, "memorization_se_median_high": 0.0263,
                         "trials_for_median_se_high": {"0.05": 278, "0.02": 1736}},
         "reliability_spread": {"splits": 20, "max_influence": {"sd": 0.0057, "low": 0.963, "high": 0.986}},
         "stability_k": 48, "data_oob": {"mean": 0.973, "se_median": 0.0},
         "banzhaf": {"mean": 1.99e-05, "se_median": 0.00039},
         "lds": {"lds": 0.0741, "low": 0.0466, "high": 0.1016, "se": 0.0121, "examples": 44, "held_out": 100},
         "null": {"draws": 32, "max_influence": {"null_mean": 0.0083, "excess_mean": 0.0113, "correlation": 0.926}}}
AUC = {"auc": 0.9729, "low": 0.9560, "high": 0.9898}
HARM = {"cheap": ["margin", "loss"], "influence": ["max_influence"], "folds": 5,
        "cie": {"n": 5, "of": 359,
                "alone": {"margin": AUC, "max_influence": {"auc": 0.982, "low": 0.966, "high": 0.998}},
                "added": {"folds": 5, "cheap": 0.9932, "both": 0.9898, "cheap_low": 0.9835, "cheap_high": 1.0,
                          "both_low": 0.9784, "both_high": 1.0, "delta": -0.0034, "delta_low": -0.0139,
                          "delta_high": 0.0071, "draws": 32, "null_delta_mean": -0.0150, "null_delta_high": 0.0034,
                          "p": 0.545}}}
BIAS = {"cev": 0.35, "cev_low": 0.0, "cev_high": 1.17, "cev_se": 0.36, "cev_plugin": 0.42, "cev_null": 0.07,
        "cev_p": 0.21, "sde": 0.64, "sde_low": 0.28, "sde_high": 1.32, "sde_se": 0.46, "sde_plugin": 0.66,
        "sde_null": 0.31, "sde_p": 0.04, "undefined_classes": [2, 6], "unstable_classes": []}
LEVEL = BIAS | {"level": None, "pie": 0, "shift_mass": 2.4, "shifted": 10, "shifted_min": 0.2,
                "reference_accuracy": 0.9602, "compressed_accuracy": 0.9599, "affected_classes": [1], "classes_affected": 1,
                "recall": {"1": {"t": -2.51, "p": 0.033, "constant": False, "reference_recall": 0.9889,
                                 "compressed_recall": 1.0, "reference_normalised": 1.0299,
                                 "compressed_normalised": 1.0418}},
                "bias": {"1": {"recall_diff": 0.0111, "recall_diff_low": 0.0008, "recall_diff_high": 0.0214,
                               "recall_p": 0.04, "recall_p_bh": 0.4, "fpr_diff": 0.0003, "fpr_diff_low": -0.0022,
                               "fpr_diff_high": 0.0028, "fpr_p": 0.8, "fpr_p_bh": 0.9}}}
PIE = {"population": 10, "alpha": 0.05, "n_test": 359, "shifted_share": 0.05,
       **{k: LEVEL[k] for k in ("pie", "shift_mass", "shifted", *BIAS)}, "levels": {"group_sparsity": LEVEL}}
REPRESENTATIVE = {"metrics/ttest.json": {"statistic": "max_influence", "reliability": 0.981, "cie": GROUP},
                  "metrics/estimate.json": MODEL, "metrics/harm.json": HARM, "metrics/pie.json": PIE,
                  "metrics/trials.json": TRIALS | {"trials": 1000, "mean_subset_size": 1006.0}}
# The numbers of REPRESENTATIVE that no rule covers: means over all examples of estimates whose errors
# share the trials, and an order statistic of the shifts.
WITHOUT_A_BAR = {("metrics/estimate.json", k) for k in (
    "memorization_mean", "test_mean_influence_mean", "banzhaf.mean", "null.max_influence.null_mean",
    "null.max_influence.excess_mean")} | {("metrics/pie.json", "levels.group_sparsity.shifted_min")}


def moved(tree: dict, changes: dict) -> dict:
    """A copy of a metrics file with the leaves at the dotted keys of `changes` set to their values."""
    out = json.loads(json.dumps(tree))
    for key, value in changes.items():
        *parents, leaf = key.split("/")
        node = out
        for part in parents:
            node = node[part]
        node[leaf] = value
    return out


def every_number_nudged(tree):
    if isinstance(tree, dict):
        return {k: every_number_nudged(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [every_number_nudged(v) for v in tree]
    return tree * (1 + 1e-9) if isinstance(tree, float) else tree


INTERVALS = [  # (file, the group's path, the number, its interval's ends)
    ("metrics/ttest.json", "cie/excess", "diff", "diff_low", "diff_high"),
    ("metrics/ttest.json", "cie/matched", "diff", "diff_low", "diff_high"),
    ("metrics/pie.json", "", "cev", "cev_low", "cev_high"),
    ("metrics/pie.json", "levels/group_sparsity/bias/1", "recall_diff", "recall_diff_low", "recall_diff_high"),
    ("metrics/harm.json", "cie/alone/margin", "auc", "low", "high"),
    ("metrics/harm.json", "cie/added", "delta", "delta_low", "delta_high"),
    ("metrics/estimate.json", "lds", "lds", "low", "high"),
]


@pytest.mark.parametrize("file, group, point, low, high", INTERVALS, ids=[f"{f}:{g}/{p}" for f, g, p, *_ in INTERVALS])
@pytest.mark.parametrize("sign", [1, -1])
def test_a_quarter_interval_move_of_any_difference_is_within_and_nothing_else_moves_outside(file, group, point, low,
                                                                                         high, sign):
    node = REPRESENTATIVE[file]
    for part in filter(None, group.split("/")):
        node = node[part]
    shift = sign * (node[high] - node[low]) / 4
    prefix = f"{group}/" if group else ""
    changes = {prefix + k: node[k] + shift for k in (point, low, high)}
    if group == "cie/excess":  # trials_to_detect moved as its formula moves it
        changes[f"{prefix}trials_to_detect"] = stats.trials_to_detect(1000, node["se"], node["diff"] + shift, 0.05)
    fresh = REPRESENTATIVE | {file: moved(REPRESENTATIVE[file], changes)}
    rows = verify.compare(REPRESENTATIVE, fresh, KNOBS)
    judged = {(r.file, r.key.replace(".", "/")): r.verdict for r in rows if r.verdict != "identical"}
    assert set(judged) == {(file, k) for k in changes}
    assert set(judged.values()) == {"within"}


def test_q2s_knot_count_is_a_count_not_a_setting():
    # The spline's knots follow the comparison's distinct difficulties, which move with the trials'
    # last bits (8 -> 7 in a one-thread rerun): a Poisson count, not what the seed alone decides.
    fresh = REPRESENTATIVE | {"metrics/ttest.json": moved(REPRESENTATIVE["metrics/ttest.json"],
                                                          {"cie/matched/knots": 7})}
    row, = (r for r in verify.compare(REPRESENTATIVE, fresh, KNOBS) if r.verdict != "identical")
    assert (row.key, row.verdict, row.rule) == ("cie.matched.knots", "within", "Poisson")


def test_trials_to_detect_gets_the_bar_its_formula_propagates_from_the_difference():
    # diff 10 standard errors from 0: trials_to_detect = trials (z se / diff)^2 has relative standard
    # error 2 se / diff = 0.2, so doubling it alone is outside; a Poisson bar (±2.8 sqrt(79)) would
    # have called it outside too, and also the 672 -> 340 of a quarter-interval move (test above).
    excess = {"diff": 1.0, "diff_low": 0.8, "diff_high": 1.2, "se": 0.1, "df": 300.0, "n": 50, "comparison_n": 300}
    detect = stats.trials_to_detect(1000, excess["se"], excess["diff"], 0.05)
    committed = {"metrics/ttest.json": {"cie": {"excess": excess | {"trials_to_detect": detect}}}}
    fresh = {"metrics/ttest.json": {"cie": {"excess": excess | {"trials_to_detect": 2 * detect}}}}
    row, = (r for r in verify.compare(committed, fresh, KNOBS) if r.key == "cie.excess.trials_to_detect")
    assert (row.verdict, row.rule) == ("outside", "delta method")
    fresh["metrics/ttest.json"]["cie"]["excess"]["trials_to_detect"] = round(1.3 * detect)
    assert verdicts(committed, fresh)[("metrics/ttest.json", "cie.excess.trials_to_detect")] == "within"


@pytest.mark.parametrize("file, key, value", [
    ("metrics/pie.json", "undefined_classes", [3, 7]),  # as many classes, other classes
    ("metrics/pie.json", "levels/group_sparsity/affected_classes", [2]),
    ("metrics/harm.json", "cheap", ["margin", "el2n"]),
    ("metrics/ttest.json", "cie/excess/role", "exploratory"),
])
def test_a_changed_list_or_word_is_outside(file, key, value):
    fresh = REPRESENTATIVE | {file: moved(REPRESENTATIVE[file], {key: value})}
    rows = [r for r in verify.compare(REPRESENTATIVE, fresh, KNOBS) if r.verdict != "identical"]
    assert [(r.key, r.verdict, r.rule) for r in rows] == [(key.replace("/", "."), "outside", "exact")]


@pytest.mark.parametrize("file, key, value", [
    ("metrics/estimate.json", "lds/held_out", 101),
    ("metrics/estimate.json", "reliability/split_seed", 1),
    ("metrics/estimate.json", "null/draws", 33),
    ("metrics/pie.json", "alpha", 0.06),
    ("metrics/pie.json", "population", 11),
    ("metrics/pie.json", "shifted_share", 0.06),
    ("metrics/harm.json", "folds", 6),
    ("metrics/harm.json", "cie/added/folds", 4),
    ("metrics/harm.json", "cie/of", 360),
    ("metrics/ttest.json", "cie/control/draws", 999),
    ("metrics/ttest.json", "cie/excess/family", 2),
])
def test_a_changed_setting_or_what_the_seed_decides_is_outside(file, key, value):
    fresh = REPRESENTATIVE | {file: moved(REPRESENTATIVE[file], {key: value})}
    rows = [r for r in verify.compare(REPRESENTATIVE, fresh, KNOBS) if r.verdict != "identical"]
    assert [(r.key, r.verdict, r.rule) for r in rows] == [(key.replace("/", "."), "outside", "exact")]


def test_every_knob_of_params_yaml_written_into_a_metrics_file_must_be_identical():
    import dataclasses

    from longtail.params import schema

    knobs = {f.name for sections in schema.SECTIONS.values() for section in sections
             for f in dataclasses.fields(section)}
    knobs = knobs - {"shifted"} | {"seed"}  # pie.json's `shifted` is a count; its knob is written shifted_share
    rows = verify.compare({"metrics/x.json": dict.fromkeys(knobs, 1.0)},
                          {"metrics/x.json": dict.fromkeys(knobs, 1.001)}, KNOBS)
    assert {r.key for r in rows if (r.verdict, r.rule) == ("outside", "exact")} == knobs


def test_no_number_with_its_own_interval_or_se_says_no_error_bar():
    fresh = every_number_nudged(REPRESENTATIVE)
    rows = verify.compare(REPRESENTATIVE, fresh, KNOBS)
    assert {(r.file, r.key) for r in rows if r.verdict == "no error bar"} == WITHOUT_A_BAR
    assert {r.key for r in rows if r.verdict == "outside"} == {"alpha", "shifted_share", "mean_subset_size"}  # exact


def carries_its_own_bar(row: verify.Row, files: dict) -> bool:
    """Whether a number has a sibling interval or standard error (a number, by its name)."""
    *group, leaf = row.key.split(".")
    siblings = {k.rsplit(".", 1)[-1] for k, v in verify.flatten(files[row.file]).items()
                if k.split(".")[:-1] == group and isinstance(v, float)}
    return bool(siblings & {f"{leaf}_low", f"{leaf}_ci_low", f"{leaf}_se", "low", "ci_low", "se"})


def test_no_committed_number_with_its_own_interval_or_se_says_no_error_bar(root):
    # The repository's committed metrics, whatever their values: only their names are read.
    files = {p.relative_to(root).as_posix(): json.loads(p.read_text())
             for pattern in ("metrics/*.json", "dvclive/*/metrics.json") for p in sorted(root.glob(pattern))}
    if not files:
        pytest.skip("no metrics files in this checkout")
    rows = verify.compare(files, every_number_nudged(files), KNOBS)
    assert [r.key for r in rows if r.verdict == "no error bar" and carries_its_own_bar(r, files)] == []


def test_an_interval_on_few_degrees_of_freedom_is_judged_by_students_t_not_the_normal():
    # diff 0 in [-4.30, 4.30] on 2 df is a standard error of 1: a move of 4 is outside (the normal's
    # 1.96 would call the standard error 2.2, and the move within)
    tested = {"metrics/ttest.json": {"cie": {"matched": {"diff": 0.0, "diff_low": -4.303, "diff_high": 4.303,
                                                         "df": 2}}}}
    fresh = {"metrics/ttest.json": {"cie": {"matched": {"diff": 4.0, "diff_low": -0.303, "diff_high": 8.303, "df": 2}}}}
    assert verdicts(tested, fresh)[("metrics/ttest.json", "cie.matched.diff")] == "outside"


def test_an_interval_clipped_at_zero_is_as_wide_as_its_wider_half():
    # cev 0.3 in [0, 1.2] (clipped at 0) on 9 df: standard error 0.9 / 2.26 = 0.40, not 0.6 / 2.26
    committed = {"metrics/pie.json": {"population": 10, "cev": 0.3, "cev_low": 0.0, "cev_high": 1.2}}
    fresh = {"metrics/pie.json": {"population": 10, "cev": 1.2, "cev_low": 0.3, "cev_high": 2.1}}
    found = verdicts(committed, fresh)
    assert found[("metrics/pie.json", "cev")] == "within"
