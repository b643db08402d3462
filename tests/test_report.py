"""The analysis end of the pipeline: the ttest and report stages on small hand-built artifacts (no
training), the report's plain-words reading, and the comparison of experiments."""

import json
import subprocess

import numpy as np
import pytest
import yaml

from longtail import LongtailError
from longtail.analysis import cie, experiments, harm, pie, questions, stats
from longtail.data import datasets
from longtail.estimate import influence, null
from longtail.report import markdown
from longtail.train import curves

FIGURES = ["training_curves.png", "influence_pairs.png", "most_influential.png", "test_mean_influence.png", "train_mean_influence.png",
           "memorization.png", "ttest.png", "cie_counts.png", "memorization_stability.png"]
RELIABILITY = {"split_seed": 0, "memorization": 0.91, "mean_influence": 0.05, "max_influence": 0.6,
               "top_memorization": 0.4, "memorization_se_median": 0.04, "trials_for_median_se": {"0.05": 26, "0.02": 160},
               "memorization_se_median_high": 0.1, "trials_for_median_se_high": {"0.05": 160, "0.02": 1000}}


def run(root, python, stage, *args, cwd):
    return subprocess.run([python, str(root / "stages" / f"{stage}.py"), *args], capture_output=True, text=True, cwd=cwd)


def longtail(python, command, *args, cwd):
    return subprocess.run([python, "-m", "longtail", command, *args], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def artifacts(tmp_path, root):
    """The inputs of ttest and report as the earlier stages write them, from random trials on the
    synthetic set: prepared data, influence arrays, CIE and PIE masks and the other stages' metrics."""
    arrays = datasets.load("synthetic")
    n_train, n_test = len(arrays["y_train"]), len(arrays["y_test"])
    rng = np.random.default_rng(0)
    masks = rng.random((40, n_train)) < 0.7
    train_correct, test_correct = rng.random((40, n_train)) < 0.9, rng.random((40, n_test)) < 0.9
    (tmp_path / "data/prepared").mkdir(parents=True)
    for split in ("train", "test"):
        np.savez(tmp_path / f"data/prepared/{split}.npz", x=arrays[f"x_{split}"], y=arrays[f"y_{split}"],
                 rare=arrays[f"rare_{split}"])
    (tmp_path / "data/trials").mkdir(parents=True)
    np.save(tmp_path / "data/trials/test_correct.npy", test_correct)
    out = tmp_path / "data/influence"
    out.mkdir(parents=True)
    full = np.concatenate(list(influence.influence_blocks(masks, test_correct)))
    memorization = influence.memorization(masks, train_correct)
    test_mean, train_mean = influence.mean_influences(masks, test_correct)
    strongest, top = influence.strongest_influence(full)
    for name, array in [("influence", full), ("memorization", memorization), ("test_mean_influence", test_mean),
                        ("train_mean_influence", train_mean), ("test_max_influence", strongest),
                        ("test_top_memorization", influence.top_memorization(top, memorization))]:
        np.save(out / f"{name}.npy", array)
    for name, draws in null.by_count(masks, test_correct, memorization, draws=8, seed=0).items():
        np.save(out / stats.NULL_FILES[name], draws)  # the estimate's: by counts, their means the null
    cie = rng.random(n_test) < 0.1
    cie_u = cie & (rng.random(n_test) < 0.5)
    (tmp_path / "data/cie").mkdir(parents=True)
    np.savez(tmp_path / "data/cie/masks.npz", cie=cie, cie_u=cie_u, cie_c=cie & ~cie_u,
             cie_both_wrong=np.zeros(n_test, bool))
    # Populations whose compressed members err more on the rare examples: the pie stage's own arrays and
    # metrics, except that the PIEs are set to exactly the rare ones.
    y, rare = arrays["y_test"], arrays["rare_test"]
    reference = np.where(rng.random((3, n_test)) < 0.9, y, (y + 1) % 10)
    compressed = np.where(rng.random((1, 3, n_test)) < np.where(rare, 0.3, 0.9), y, (y + 2) % 10)
    pies, summary = pie.levels(reference, compressed, ["group_sparsity"], [np.nan], y, 0.05, shifted=0.05,
                               bootstrap=100, seed=0, rare=rare)
    (tmp_path / "data/pie").mkdir(parents=True)
    np.savez(tmp_path / "data/pie/masks.npz", pie=rare.copy(), shifted=pies["shifted_levels"][-1])
    np.savez(tmp_path / "data/pie/shift.npz", shift=pies["shift_levels"][-1], reference_votes=pies["reference_votes"],
             compressed_votes=pies["compressed_votes"])
    # The influence_free stage's joint draws: every tested example and a sample of 30 of the rest
    columns, sampled = null.sample_columns(n_test, cie | rare | pies["shifted_levels"][-1], 30, seed=1)
    joint = null.influence_free(masks, test_correct[:, columns], memorization, draws=8, seed=2)
    (tmp_path / "data/influence_free").mkdir(parents=True)
    np.savez(tmp_path / "data/influence_free/draws.npz", columns=columns, sampled=sampled, **joint)
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    write = lambda name, d: (metrics / f"{name}.json").write_text(json.dumps(d))  # noqa: E731
    write("trials", {"trials": 40, "subset_accuracy": 1.0, "held_out_accuracy": 0.9, "test_accuracy": 0.9,
                     "fit_fraction": 1.0})
    write("estimate", {"trials": 40, "n_train": n_train, "n_test": n_test, "memorization_mean": 0.1,
                       "high_memorization": 5, "high_influence_pairs": 3, "undefined_train_examples": 0,
                       "test_mean_influence_mean": 0.0, "reliability": RELIABILITY, "stability_k": 5})
    # the training curves, as DVCLive writes them (curves.write)
    curves.write(tmp_path / "dvclive/reference", {"reference": {m: np.linspace(0.9, 0.1, 5) for m in curves.METRICS}})
    curves.write(tmp_path / "dvclive/compress", {p: {m: np.linspace(0.5, 0.2, 3) for m in curves.METRICS}
                                                 for p in ("sparsify", "recovery")})
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots/memorization_stability.csv").write_text("trials,jaccard\n8,0.2\n16,0.5\n32,0.8\n40,1.0\n")
    write("compress", {"method": "group_sparsity", "loss": "ce", "reference_accuracy": 0.9, "compressed_accuracy": 0.89,
                       "flops_ratio": 0.5, "parameters_ratio": 0.5, "size_ratio": 0.5})
    write("cie", {"cie": int(cie.sum()), "cie_u": int(cie_u.sum()), "cie_c": int((cie & ~cie_u).sum()),
                  "cie_both_wrong": 0, "agree": int((~cie).sum()), "n_test": n_test})
    summary["levels"]["group_sparsity"]["pie"] = summary["pie"] = int(rare.sum())
    write("pie", summary)
    statistics = {name: np.load(out / stats.FILES[name]) for name in stats.STATISTICS}
    write("harm", harm.predicts({k: rng.random(n_test) for k in harm.CHEAP}, statistics,
                                joint, {"cie": cie, "shifted": pies["shifted_levels"][-1]}, folds=3, seed=0,
                                columns=columns, sampled=sampled))
    write("consistency", {"arch_a": "mlp", "arch_b": "cnn", "high_memorization_a": 5, "high_memorization_b": 4,
                          "jaccard_memorization": 0.5, "d_mem": 0.1, "high_influence_pairs_a": 3,
                          "high_influence_pairs_b": 2, "jaccard_pairs": 0.25})
    return tmp_path


@pytest.mark.parametrize("statistic", ["mean_influence", "max_influence", "top_memorization"])
def test_ttest_tests_the_chosen_statistic_for_every_group(root, python, artifacts, statistic):
    params = yaml.safe_load((artifacts / "params.yaml").read_text())
    params["ttest"] |= {"statistic": statistic, "control_draws": 50}
    (artifacts / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(root, python, "ttest", cwd=artifacts)
    assert result.returncode == 0, result.stderr
    got = json.loads((artifacts / "metrics/ttest.json").read_text())
    assert got["statistic"] == statistic and set(got) == {"statistic", "reliability", *cie.GROUPS}
    assert got["reliability"] == RELIABILITY[statistic]  # beside every test, from metrics/estimate.json
    said = " ".join(result.stderr.split())  # the messages, unwrapped
    assert f"split-half reliability {RELIABILITY[statistic]:.3f}" in said
    files = {"mean_influence": "test_mean_influence", "max_influence": "test_max_influence",
             "top_memorization": "test_top_memorization"}
    values = np.load(artifacts / f"data/influence/{files[statistic]}.npy")
    masks = np.load(artifacts / "data/cie/masks.npz")
    expected = stats.two_sample_tests(values[masks["cie_u"]], values[~masks["cie"]])
    assert got["cie_u"]["t"] == pytest.approx(expected["t"]) and got["cie_u"]["mw_p"] == pytest.approx(expected["mw_p"])
    assert got["cie"]["control"]["draws"] == 50
    # The PIEs here are the rare examples: all of the group is rare.
    assert got["pie"]["rare"]["share"] == 1.0 and got["pie"]["rare"]["fisher_p"] < 1e-6
    bh = stats.benjamini_hochberg([got[k]["p"] for k in cie.GROUPS])
    assert [got[k]["p_bh"] for k in cie.GROUPS] == pytest.approx(bh)
    assert got["shifted"]["rare"]["share"] > 2 * got["shifted"]["rare"]["overall_share"]  # the graded ranking finds them
    # Every group has its two answers: Q1 on the excess over the influence-free null, Q2 at equal difficulty.
    difficulty = np.load(artifacts / "data/trials/test_correct.npy").mean(0)
    means = np.load(artifacts / f"data/influence/{stats.NULL_FILES[statistic]}").mean(0)
    joint = np.load(artifacts / "data/influence_free/draws.npz")
    assert not joint["sampled"].all() and len(joint["columns"]) < len(values)  # the noise from a sample
    pie = np.load(artifacts / "data/pie/masks.npz")["pie"]
    for k, group in (("cie", masks["cie"]), ("pie", pie)):
        q1, q2 = questions.two_questions(values - means, joint[statistic], group, ~group, difficulty, means=means,
                                         columns=joint["columns"], sampled=joint["sampled"])
        role = {key: got[k]["excess"][key] for key in ("p_bh", "trials_to_detect", "role", "family")}
        assert {key: v for key, v in got[k]["excess"].items() if key not in ("role",)} == pytest.approx(
            q1 | {key: v for key, v in role.items() if key != "role"})
        assert got[k]["matched"]["p"] == pytest.approx(q2["p"]) and got[k]["matched"]["diff"] == pytest.approx(q2["diff"])
        assert got[k]["matched"]["n"] + 0 == int(group.sum()) and got[k]["excess"]["n"] == int(group.sum())
        assert got[k]["excess"]["diff_low"] <= got[k]["excess"]["diff"] <= got[k]["excess"]["diff_high"]
    # The family: Q1 for the CIEs confirmatory (its own p), every other answer adjusted together.
    assert got["cie"]["excess"]["role"] == "confirmatory" and got["cie"]["excess"]["p_bh"] == got["cie"]["excess"]["p"]
    exploratory = [got[k][q] for k in cie.GROUPS for q in ("excess", "matched") if (k, q) != ("cie", "excess")]
    assert {q["role"] for q in exploratory} == {"exploratory"}
    assert [q["p_bh"] for q in exploratory] == pytest.approx(stats.benjamini_hochberg([q["p"] for q in exploratory]))
    assert "beyond the estimator's noise" in said and "at equal difficulty" in said


def test_ttest_refuses_the_papers_statistic_with_fixed_size_masks_before_any_work(root, python, artifacts):
    params = yaml.safe_load((artifacts / "params.yaml").read_text())
    params["ttest"]["statistic"], params["trials"]["mask"] = "mean_influence", "fixed_size"
    (artifacts / "params.yaml").write_text(yaml.safe_dump(params))
    (artifacts / "data/influence/test_mean_influence.npy").unlink()  # refused before reading any input
    for stage in ("ttest", "train_trials"):
        result = run(root, python, stage, cwd=artifacts)
        said = " ".join(result.stderr.split())
        assert result.returncode == 2, (stage, said)
        assert "mean_influence cannot be tested with trials.mask fixed_size" in said
        assert "max_influence or top_memorization" in said
    assert not (artifacts / "metrics/ttest.json").exists() and not (artifacts / "data/trials/masks.npy").exists()


def test_report_draws_every_figure_and_writes_the_report(root, python, artifacts):
    assert run(root, python, "ttest", cwd=artifacts).returncode == 0
    result = run(root, python, "report", cwd=artifacts)
    assert result.returncode == 0, result.stderr
    for name in FIGURES:
        assert (artifacts / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
    for name in ("test_mean_influence", "train_mean_influence", "memorization"):
        rows = (artifacts / "plots" / f"{name}.csv").read_text().splitlines()
        assert rows[0] == f"{name},count" and len(rows) == 51  # ttest.bins bins
    text = (artifacts / "report.md").read_text()
    for heading in ("## Data and trials", "## Estimator", "## Compression", "## Compression impacted exemplars",
                    "## Are they more influenced?", "## Pruning identified exemplars",
                    "## Consistency across architectures", "## Figures"):
        assert heading in text
    for name in FIGURES:
        assert f"(plots/{name})" in text
    assert "not meaningful" not in text and "Planted truth" not in text  # the trials fit; no labels flipped


def test_the_report_warns_first_when_the_trials_did_not_fit_and_reads_the_error_bars_and_planted_truth(
        root, python, artifacts):
    metrics = artifacts / "metrics"
    trials = json.loads((metrics / "trials.json").read_text()) | {"fit_fraction": 0.3, "subset_accuracy": 0.95}
    (metrics / "trials.json").write_text(json.dumps(trials))
    estimate = json.loads((metrics / "estimate.json").read_text())
    estimate["planted"] = {"flipped": 12, "auc": 0.62, "precision_at_k": 0.25, "memorization_flipped": 0.2,
                           "memorization_clean": 0.05, "fit_flipped": 0.3}
    (metrics / "estimate.json").write_text(json.dumps(estimate))
    params = yaml.safe_load((artifacts / "params.yaml").read_text())
    params["data"]["flip_labels"] = 0.05
    (artifacts / "params.yaml").write_text(yaml.safe_dump(params))
    assert run(root, python, "ttest", cwd=artifacts).returncode == 0
    assert run(root, python, "report", cwd=artifacts).returncode == 0
    text = (artifacts / "report.md").read_text()
    warning = text.index("The memorization estimates of this run are not meaningful")
    assert warning < text.index("## Data and trials")  # at the top, before any number
    assert "only 30% of the trials fit their own subsets" in text and "data.flip_labels=0.05" in text
    assert "| memorization | 0.910 |" in text and "reach 0.05 at about 26 trials and 0.02 at about 160 trials" in text
    assert "high-memorization examples it is 0.100, which would reach 0.05 at about 160 trials" in text
    assert "### Planted truth: flipped labels" in text and "12 training labels were moved" in text
    assert "does **not** find them" in text and "| AUC of memorization, flipped against clean | 0.620 |" in text


def test_the_report_says_an_unmet_stopping_rule_first_and_reads_the_target_lds_and_other_estimators(
        root, python, artifacts):
    metrics = artifacts / "metrics"
    trials = json.loads((metrics / "trials.json").read_text()) | {"until": {
        "until": "reliability_high >= 0.9", "high": 0.25, "trials": 40, "count": 40, "value": 0.71, "met": False,
        "stopped": "the budget ran out"}}
    (metrics / "trials.json").write_text(json.dumps(trials))
    estimate = json.loads((metrics / "estimate.json").read_text()) | {
        "target": "margin", "lds": {"lds": 0.234, "low": 0.2, "high": 0.268, "se": 0.015, "examples": 31, "held_out": 4},
        "data_oob": {"mean": 0.9, "se_median": 0.02}, "banzhaf": {"mean": 0.001, "se_median": 0.004}}
    (metrics / "estimate.json").write_text(json.dumps(estimate))
    assert run(root, python, "ttest", cwd=artifacts).returncode == 0
    assert run(root, python, "report", cwd=artifacts).returncode == 0
    text = (artifacts / "report.md").read_text()
    warning = text.index("The stopping rule was not met")
    assert warning < text.index("## Data and trials")
    assert "ran out before trials.until (reliability_high >= 0.9) was met (0.71 at the end)" in text
    assert "The estimator averages the margin each trial gives each example's label" in text
    assert "is **0.234** [0.200, 0.268]" in text and "over the 31 test examples" in text
    assert "Data-OOB (its mean margin in the trials that left it out" in text
    trials["until"] |= {"met": True, "trials": 32, "value": 0.91}
    (metrics / "trials.json").write_text(json.dumps(trials))
    assert run(root, python, "report", cwd=artifacts).returncode == 0
    text = (artifacts / "report.md").read_text()
    assert "The stopping rule was not met" not in text and "was met after 32 of the 40 budgeted trials" in text


def test_the_fit_warning_is_silent_when_enough_trials_fit():
    assert markdown.fit_warning({"fit_fraction": 0.9, "subset_accuracy": 0.995}, 0.99) is None
    assert "only 89% of the trials" in markdown.fit_warning({"fit_fraction": 0.89, "subset_accuracy": 0.99}, 0.99)


def test_report_stops_with_a_message_when_a_metrics_file_is_missing(root, python, artifacts):
    assert run(root, python, "ttest", cwd=artifacts).returncode == 0
    (artifacts / "metrics/pie.json").unlink()
    result = run(root, python, "report", cwd=artifacts)
    assert result.returncode == 2 and "missing input metrics/pie.json" in result.stderr
    assert not (artifacts / "report.md").exists() and not list((artifacts / "plots").glob("*.png"))


def test_ttest_refuses_masks_of_another_test_set(root, python, artifacts):
    np.savez(artifacts / "data/pie/masks.npz", pie=np.zeros(3, bool))
    result = run(root, python, "ttest", cwd=artifacts)
    assert result.returncode == 2 and "lacks arrays ['shifted']" in result.stderr  # a pie stage of another version
    assert "`dvc repro --force pie`" in " ".join(result.stderr.split())
    np.savez(artifacts / "data/pie/masks.npz", pie=np.zeros(3, bool), shifted=np.zeros(3, bool))
    result = run(root, python, "ttest", cwd=artifacts)
    assert result.returncode == 2 and "PIE masks cover 3 test examples" in result.stderr
    assert not (artifacts / "metrics/ttest.json").exists()


RESULT = {"t": -3.0, "p": 0.003, "p_bh": 0.01, "welch_t": -1.0, "welch_p": 0.3, "mw_u": 10.0, "mw_p": 0.01,
          "hedges_g": -1.2, "g_low": -2.0, "g_high": -0.3, "n": 6, "comparison_n": 300, "mean": -0.01,
          "comparison_mean": 0.0, "control": {"draws": 1000, "as_extreme": 0.004, "t_low": -2.0, "t_high": 2.0}}


MATCHED = {"p": 0.41, "diff": 0.012, "diff_low": -0.02, "diff_high": 0.04, "se": 0.015, "raw_diff": 0.16, "n": 5,
           "extrapolated": 1, "comparison_n": 80, "knots": 4, "group_difficulty": 0.28, "comparison_difficulty": 0.96,
           "design_effect": 1.2, "p_bh": 0.5}
EXCESS = {"p": 0.0004, "diff": 0.21, "diff_low": 0.15, "diff_high": 0.27, "se": 0.03, "n": 5, "comparison_n": 80,
          "mean": 0.22, "comparison_mean": 0.01, "design_effect": 1.1, "trials_to_detect": 40, "p_bh": 0.001}


def test_the_two_answers_come_in_plain_words():
    text = markdown.answers("cie", RESULT | {"excess": EXCESS, "matched": MATCHED}, 0.05)
    assert text.startswith("**CIEs (the two models disagree)** are more influenced than agreeing examples beyond the "
                           "estimator's noise: +0.21 [+0.15, +0.27], p = 0.0004")
    assert "At equal difficulty they are not shown to be more influenced: +0.012 [-0.02, +0.04], p = 0.41 (1 of the 5 outside" in text
    assert text.index("estimator's noise") < text.index("At equal difficulty")
    quiet = markdown.answers("cie", {"excess": EXCESS | {"p": 0.07, "diff": 0.007, "trials_to_detect": 2900},
                                   "matched": MATCHED | {"p": 0.001, "extrapolated": 0}}, 0.05)
    assert "are not shown to be more influenced than agreeing examples beyond the estimator's noise" in quiet
    assert "would need at least 2900 trials" in quiet
    assert "At equal difficulty they are more influenced" in quiet and "(all 5 used)" in quiet
    assert "too few to answer" in markdown.answers("cie_u", {"excess": EXCESS | {"p": None, "n": 1}}, 0.05)
    assert "too few to compare" in markdown.answers("cie", {"excess": EXCESS, "matched": MATCHED | {"p": None}}, 0.05)
    assert "rerun the ttest stage" in markdown.answers("pie", RESULT, 0.05)


def test_the_report_leads_with_the_controlled_answer_and_labels_the_papers_statistic(root, python, artifacts):
    params = yaml.safe_load((artifacts / "params.yaml").read_text())
    params["ttest"] |= {"statistic": "mean_influence", "control_draws": 50}
    (artifacts / "params.yaml").write_text(yaml.safe_dump(params))
    assert run(root, python, "ttest", cwd=artifacts).returncode == 0
    result = run(root, python, "report", cwd=artifacts)
    assert result.returncode == 0, result.stderr
    section = (artifacts / "report.md").read_text().split("## Are they more influenced?")[1]
    assert "split-half reliability 0.050" in section and "It is the seed paper's statistic" in section
    assert section.index("beyond the estimator's noise:") < section.index("At equal difficulty")
    assert section.index("At equal difficulty") < section.index("### The paper's test")


def test_the_reading_says_what_is_significant_and_which_tests_disagree():
    text = markdown.reading("cie_u", RESULT, 0.05, "mean_influence")
    assert "CIE-U" in text and "lower than on the 300 others" in text and "significant at α = 0.05" in text
    assert "Welch's t (no equal variances, no normality assumed) disagrees" in text
    assert "excludes 0" in text and "a share of 0.004 look as extreme" in text
    quiet = markdown.reading("cie", RESULT | {"p": 0.4, "welch_p": 0.5, "mw_p": 0.6, "g_high": 0.5}, 0.05, "max_influence")
    assert "not significant" in quiet and "agree" in quiet and "includes 0" in quiet
    assert "too few to test" in markdown.reading("pie", {"n": 1, "t": None}, 0.05, "mean_influence")


def exp_show(*runs):
    """The shape of `dvc exp show --json`: a workspace row, then a baseline with its experiments."""
    revs = [{"revs": [{"rev": f"{n:040x}", "name": name, "data": data}]} for n, (name, data) in enumerate(runs)]
    return [{"rev": "workspace", "data": {}}, {"rev": "f" * 40, "data": {}, "experiments": revs}]


def run_data(method, loss, t, p, flops=0.5, accuracy=0.95, mass=2.0, cev_p=0.01):
    tests = {g: {"t": t, "p": p, "n": 4, "excess": EXCESS | {"p": 0.2}, "matched": MATCHED | {"p": 0.5}}
             for g in cie.GROUPS}
    level = {"compressed_accuracy": accuracy, "pie": 3, "shift_mass": mass, "cev": 0.4, "cev_low": 0.1, "cev_high": 0.9,
             "cev_plugin": 0.5, "cev_null": 0.2, "cev_p": cev_p, "sde": 0.3}
    return {"params": {"params.yaml": {"data": {"compress": {"method": method, "loss": loss}}}},
            "metrics": {"metrics/ttest.json": {"data": {"statistic": "max_influence", "reliability": 0.9} | tests},
                        "metrics/cie.json": {"data": {"cie": 4, "cie_u": 2, "cie_c": 1}},
                        "metrics/compress.json": {"data": {"flops_ratio": flops, "size_ratio": flops + 0.02,
                                                           "parameters_ratio": flops + 0.01,
                                                           "compressed_accuracy": accuracy}},
                        "metrics/pie.json": {"data": {"pie": 3, "shifted": 2, "levels": {method: level}}}}}


def test_experiments_are_read_from_exp_show_skipping_failed_ones():
    shown = exp_show(("a", run_data("group_sparsity", "ce", -2.0, 0.04)), ("b", run_data("group_sparsity", "focal", 1.0, 0.3)),
                     ("broken", {"params": {}, "metrics": {}}))
    records = experiments.experiments(shown)
    assert [r["name"] for r in records] == ["a", "b"]
    assert experiments.labels(records) == ["ce", "focal"]
    assert records[0]["tests"]["cie"] == {"t": -2.0, "p": 0.04, "n": 4, "excess": EXCESS | {"p": 0.2},
                                         "matched": MATCHED | {"p": 0.5}}
    assert records[1]["counts"]["pie"] == 3 and records[0]["statistic"] == "max_influence"


def test_labels_name_what_varies_and_tell_twins_apart():
    records = experiments.experiments(exp_show(("a", run_data("magnitude", "ce", 1, 0.1)), ("b", run_data("quantize", "ce", 1, 0.1)),
                                           ("c", run_data("magnitude", "ce", 1, 0.1))))
    assert experiments.labels(records) == ["magnitude (a)", "quantize", "magnitude (c)"]


def test_adjust_applies_benjamini_hochberg_across_experiments_and_groups():
    records = experiments.adjust(experiments.experiments(exp_show(("a", run_data("m", "ce", 1, 0.01)),
                                                          ("b", run_data("m", "kd", 1, 0.04)))))
    groups = len(cie.GROUPS)
    expected = stats.benjamini_hochberg([0.01] * groups + [0.04] * groups)
    assert [r["tests"][g]["p_bh"] for r in records for g in cie.GROUPS] == pytest.approx(expected)
    # The two questions are one family across experiments x groups x questions.
    answers = [r["tests"][g][q] for r in records for g in cie.GROUPS for q in ("excess", "matched")]
    assert [a["p_bh"] for a in answers] == pytest.approx(stats.benjamini_hochberg([a["p"] for a in answers]))
    assert {a["role"] for a in answers} == {"exploratory"} and {a["family"] for a in answers} == {4 * groups}


def test_no_experiments_is_an_error_that_says_how_to_make_them():
    with pytest.raises(LongtailError, match="dvc exp run --queue"):
        experiments.experiments(exp_show())


def test_compare_draws_the_figures_the_tables_and_the_front(root, python, tmp_path):
    (tmp_path / "shown.json").write_text(json.dumps(exp_show(
        ("a", run_data("group_sparsity", "ce", -2.0, 0.001)),
        ("b", run_data("group_sparsity", "kd", 0.5, 0.6, flops=0.3, accuracy=0.93, mass=5.0, cev_p=0.02)),
        ("c", run_data("group_sparsity", "focal", 0.5, 0.6, flops=0.5, accuracy=0.94, mass=3.0, cev_p=0.3)))))  # dominated by a
    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    result = longtail(python, "compare", "--from-json", "shown.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in ("compare_ttest.png", "compare_counts.png", "compare_front.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:4] == b"\x89PNG"
    table = (tmp_path / "compare.md").read_text()
    assert "| ce | a | cie | 4 | -2.00 | 0.001 | 0.003* |" in table and "| kd | b | pie |" in table
    assert "`max_influence` (split-half reliability 0.900)" in table
    assert table.index("## Two questions") < table.index("## The paper's test")
    assert ("- ce: **CIEs (the two models disagree)** are not shown to be more influenced than agreeing examples beyond "
            "the estimator's noise: +0.21 [+0.15, +0.27], p = 0.2") in table
    assert "| ce | a | cie | 4 | +0.21 [+0.15, +0.27] | 0.2 | 0.4 | +0.012 [-0.02, +0.04] | 0.5 | 0.5 |" in table
    assert "## Harm against efficiency" in table and "3 experiments, 3 operating points" in result.stderr
    front = {row.split(" | ")[0].strip("| "): row for row in table.splitlines() if row.startswith("| ") and "group_sparsity |" in row}
    assert front["ce"].startswith("| ce | group_sparsity | 0.500 | 0.510 | 0.520 | 0.9500†§‡ | 4 | 3 | 2.0†§‡ | 0.4 [0.1, 0.9] |")
    assert front["kd"].startswith("| kd | group_sparsity | 0.300 | 0.310 | 0.320 | 0.9300†§‡ | 4†§‡ | 3 | 5.0†§‡ | 0.4†§‡")
    assert front["focal"].startswith("| focal | group_sparsity | 0.500 | 0.510 | 0.520 | 0.9400 | 4 | 3 | 3.0 | 0.4 [")
    # CEV's plug-in against its noise floor, its p adjusted across the three levels; SDE; Q1's adjusted p
    assert front["ce"].endswith("| 0.5 against 0.2, p = 0.01 (0.03) | 0.3 | 0.4 | 0.4 |")
    assert front["focal"].endswith("| 0.5 against 0.2, p = 0.3 (0.3) | 0.3 | 0.4 | 0.4 |")
    missing = longtail(python, "compare", "--from-json", "nothing.json", cwd=tmp_path)
    assert missing.returncode == 2 and "nothing.json not found" in missing.stderr


def test_training_curves_round_trip_through_dvclive(tmp_path):
    table = {phase: {"train_loss": np.array([1.0, 0.5]), "train_accuracy": np.array([0.5, 0.9]),
                     "test_accuracy": np.array([0.4, 0.8])} for phase in ("sparsify", "recovery")}
    curves.write(tmp_path / "live", table)
    assert json.loads((tmp_path / "live/metrics.json").read_text())["recovery"] == {
        "train_loss": 0.5, "train_accuracy": 0.9, "test_accuracy": 0.8}  # what `dvc exp show` lists
    back = curves.read(tmp_path / "live")
    assert list(back) == ["sparsify", "recovery"]  # in the order they trained, not alphabetical
    assert all(np.allclose(back["recovery"][k], v) for k, v in table["recovery"].items())
    assert not (tmp_path / "dvc.yaml").exists()  # DVCLive leaves dvc.yaml to the repository
    with pytest.raises(LongtailError, match="missing input .*elsewhere/metrics.json: run the stage that writes its "
                                            "training curves"):
        curves.read(tmp_path / "elsewhere")


def test_a_population_phase_logs_the_mean_and_spread_of_its_members():
    record = curves.Curves(lambda model: 0.5)
    for member, loss in enumerate((1.0, 3.0)):
        on_epoch = record.epoch("reference")
        for epoch in range(2):
            on_epoch(epoch, None, {"loss": loss + epoch, "accuracy": 0.9})
    table = record.table()["reference"]
    np.testing.assert_allclose(table["train_loss"], [2.0, 3.0])
    np.testing.assert_allclose(table["train_loss_std"], [np.sqrt(2), np.sqrt(2)])
    assert np.all(table["test_accuracy"] == 0.5)


def test_curves_are_written_in_a_git_repository_without_commits_and_outside_any(tmp_path, monkeypatch):
    table = {"reference": {m: np.array([0.5, 0.6]) for m in curves.METRICS}}
    for where, git in (("empty", True), ("plain", False)):
        (tmp_path / where).mkdir()
        if git:
            subprocess.run(["git", "init", "-q"], cwd=tmp_path / where, check=True)
        monkeypatch.chdir(tmp_path / where)
        curves.write(tmp_path / where / "live", table)
        assert curves.read(tmp_path / where / "live").keys() == {"reference"}
        assert not (tmp_path / where / ".dvc").exists()  # no `dvc init` behind the user's back


def test_ttest_refuses_a_null_of_the_wrong_shape_with_one_line(root, python, artifacts):
    path = artifacts / "data/influence" / stats.NULL_FILES["max_influence"]
    np.save(path, np.load(path)[:1])  # one draw: a stale or truncated file
    result = run(root, python, "ttest", cwd=artifacts)
    said = " ".join(result.stderr.split())
    assert result.returncode == 2 and "holds 1 influence-free draws" in said and "dvc repro --force estimate" in said
    assert not (artifacts / "metrics/ttest.json").exists()
