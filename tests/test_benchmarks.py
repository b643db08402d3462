"""Every benchmark runs, at its smallest setting: a benchmark the README quotes must be re-measurable
(benchmarks/trials.py once crashed on a field added to the trials' Outcome, and nothing noticed)."""

import json
import subprocess

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SMALLEST = {
    "trials": ["--workload", "digits", "--models-per-step", "2", "--batched-trials", "2", "--sequential-trials", "1",
               "--compile-modes", "off", "--rounds", "1"],
    "engine_ab": ["--before", "HEAD", "--models-per-step", "2", "--chunks", "1", "--epochs", "1", "--rounds", "1",
                  "--compile", "off", "--device", "cpu"],
    "estimate_memory": ["--trials", "8", "--n-train", "100", "--n-test", "50", "--target", "margin"],
    "first_steps": ["mnist", "--steps", "1", "--compile", "off", "--device", "cpu"],
    "planted": ["--count", "4", "--recipe", '{"epochs": 2, "compile": "off"}', "--device", "cpu"],
    "quantize": ["--repeats", "1"],
    "harm_calibration": ["--run", "", "--worlds", "2", "--draws", "4", "--folds", "3"],
    "coverage": ["--replicates", "2"],
    "targets": ["--count", "12", "--grid", "8", "--holdout", "0.25", "--device", "cpu",
                "--recipe", '{"epochs": 2, "compile": "off", "models_per_step": 4}'],
}


def run(root, python, name, *args, cwd=None):
    result = subprocess.run([python, str(root / "benchmarks" / f"{name}.py"), *args], cwd=cwd or root,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{name}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.mark.parametrize("name", sorted(SMALLEST))
def test_the_benchmark_runs_at_its_smallest_setting(root, python, name):
    assert run(root, python, name, *SMALLEST[name]).strip()


def test_the_calibration_and_null_shift_benchmarks_run_on_a_tiny_finished_run(root, python, tmp_path, tiny_project):
    project = tiny_project(tmp_path, ("prepare", "train_trials", "fit", "estimate"),
                           trials={"count": 8, "epochs": 2, "models_per_step": 4, "compile": "off"})
    n_test = len(np.load(project / "data/prepared/test.npz")["y"])
    cie = np.zeros(n_test, bool)
    cie[::7] = True  # any set: the benchmark draws its fake sets from the others
    (project / "data/cie").mkdir()
    np.savez(project / "data/cie/masks.npz", cie=cie, cie_u=cie & (np.arange(n_test) % 2 == 0),
             cie_c=cie & (np.arange(n_test) % 4 == 1), cie_both_wrong=cie & (np.arange(n_test) % 4 == 3))
    (project / "data/pie").mkdir()
    np.savez(project / "data/pie/masks.npz", pie=np.arange(n_test) % 5 == 1, shifted=np.arange(n_test) % 6 == 2)
    said = run(root, python, "calibration", "--run", str(project), "--draws", "10", "--realizations", "2",
               "--permutations", "100", "--null-sample", "20",
               "--sizes", "5", "--synthetic-seeds", "0", "--synthetic-trials", "6", "--planted-trials", "6",
               "--recipe", '{"epochs": 2, "compile": "off", "models_per_step": 6}', "--device", "cpu")
    assert "Q1: Welch t of the excess" in said and "| max_influence | 5 |" in said
    assert "a uniform sample of 20 of the" in said  # the sampled comparison's path, as the stage keeps it
    assert "| 0 | " in said.split("## Synthetic set")[1]  # seed 0's CIEs, every test
    assert "| 1.0 | 5 |" in said.split("## Planted")[1] and "| 0.0 | 5 |" in said
    said = run(root, python, "null_shift", "--run", str(project), "--seeds", "2", "--draws", "4")
    assert "| cie | excess | p |" in said and "| shifted | matched | diff |" in said and "numbers: |z| above 2" in said


def test_the_harm_calibration_benchmark_runs_on_a_tiny_finished_run(root, python, tmp_path, tiny_project):
    from longtail.analysis import harm

    project = tiny_project(tmp_path, ("prepare", "train_trials", "fit", "estimate"),
                           trials={"count": 8, "epochs": 2, "models_per_step": 4, "compile": "off"})
    n_test = len(np.load(project / "data/prepared/test.npz")["y"])
    rng = np.random.default_rng(0)
    harmed = np.arange(n_test) % 5 == 0  # any targets: the benchmark replaces the statistics by noise
    for folder, name in (("cie", "cie"), ("pie", "shifted")):
        (project / "data" / folder).mkdir()
        np.savez(project / "data" / folder / "masks.npz", **{name: harmed})
    (project / "data/harm").mkdir()
    np.savez(project / "data/harm/signals.npz", **{k: rng.standard_normal(n_test) for k in harm.CHEAP})
    said = run(root, python, "harm_calibration", "--run", str(project), "--replicates", "3", "--draws", "4",
               "--worlds", "0", "--folds", "2")
    found = json.loads(said[said.index("{\n"):])["workspace"]
    assert {k: found[k]["replicates"] for k in found} == {"cie": 3, "shifted": 3}
    assert all(0.2 <= found[k]["mean_p"] <= 1 and found[k]["rejected_low"] <= found[k]["rejected"] for k in found)


def test_every_benchmark_has_a_smoke_run():
    from pathlib import Path

    scripts = {p.stem for p in (Path(__file__).resolve().parents[1] / "benchmarks").glob("*.py")}
    assert scripts == set(SMALLEST) | {"calibration", "null_shift", "verify_bars", "spread"}


def test_the_spread_benchmark_compares_grouped_and_free_splits_on_trial_arrays(root, python, tmp_path):
    rng = np.random.default_rng(0)
    masks = rng.random((40, 30)) < 0.7
    np.save(tmp_path / "masks.npy", masks)
    np.save(tmp_path / "train_correct.npy", masks | (rng.random((40, 30)) < 0.6))
    np.save(tmp_path / "test_correct.npy", rng.random((40, 12)) < 0.7)
    said = run(root, python, "spread", "--trials-dir", str(tmp_path), "--seeds", "3", "--splits", "3")
    assert "40 trials, 30 training and 12 test examples; 3 seeds of 3 splits" in said
    assert all(f"\n{name} " in said for name in ("memorization", "max_influence", "top_memorization"))


def test_the_verify_bars_benchmark_reruns_a_tiny_pipeline_and_tables_each_kind_of_bar(root, python, tmp_path):
    out = tmp_path / "bars.md"
    said = run(root, python, "verify_bars", "--runs", "1", "--variants", "threads1", "--targets", "estimate",
               "--set", "data.dataset=synthetic", "--set", "trials.count=8", "--set", "trials.epochs=2",
               "--set", "trials.models_per_step=4", "--set", "trials.compile=off", "--keep", str(tmp_path / "copy"),
               "--out", str(out))
    assert out.read_text() in said
    assert "| split spread |" in said and "| **all** |" in said and "missing: 0" in said
