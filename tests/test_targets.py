"""estimate.target: the estimate stage on soft targets that train_trials kept, checked against a
recomputation from the saved arrays, trial by trial."""

import json
import subprocess

import numpy as np
import pytest
import yaml

pytestmark = pytest.mark.slow


def recomputed(masks, target, j):
    inside, outside = target[masks[:, j], j].astype(np.float64), target[~masks[:, j], j].astype(np.float64)
    return inside.mean() - outside.mean(), outside.mean()


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_project):
    return tiny_project(tmp_path_factory.mktemp("targets"), ("prepare", "train_trials"),
                        trials={"count": 12, "epochs": 3, "models_per_step": 4, "compile": "off"},
                        estimate={"null_draws": 3, "reliability_splits": 2, "holdout": 0.25})


@pytest.mark.parametrize("target", ["margin", "probability", "correct"])
def test_the_estimate_follows_the_chosen_target_as_a_recomputation_from_the_saved_arrays(root, python, project,
                                                                                        target):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["estimate"]["target"] = target
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    result = subprocess.run([python, str(root / "stages/estimate.py")], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"of the {target} target" in " ".join(result.stderr.split())
    trials, out = project / "data/trials", project / "data/influence"
    masks = np.load(trials / "masks.npy")
    saved = {side: np.load(trials / f"{side}_{target}.npy") for side in ("train", "test")}
    if target != "correct":
        assert saved["train"].dtype == np.float16
    memorization, oob, banzhaf = (np.load(out / f"{name}.npy") for name in ("memorization", "data_oob", "banzhaf"))
    utility = saved["test"].astype(np.float64).mean(1)
    for j in range(masks.shape[1]):
        if masks[:, j].all() or not masks[:, j].any():
            assert np.isnan(memorization[j])
            continue
        mem, left_out = recomputed(masks, saved["train"], j)
        assert memorization[j] == pytest.approx(mem, abs=1e-9) and oob[j] == pytest.approx(left_out, abs=1e-9)
        assert banzhaf[j] == pytest.approx(utility[masks[:, j]].mean() - utility[~masks[:, j]].mean(), abs=1e-9)
    influence = np.load(out / "influence.npy")
    i, j = 2, int(np.flatnonzero(~masks.all(0) & masks.any(0))[0])
    column = saved["test"][:, i].astype(np.float64)
    assert influence[i, j] == pytest.approx(column[masks[:, j]].mean() - column[~masks[:, j]].mean(), abs=1e-5)
    summary = json.loads((project / "metrics/estimate.json").read_text())
    assert summary["target"] == target and summary["lds"]["held_out"] == 3
    assert set(summary["lds"]) == {"lds", "low", "high", "se", "examples", "held_out"}
    assert summary["data_oob"]["mean"] == pytest.approx(np.nanmean(oob))
