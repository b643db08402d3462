"""The paper's settings as presets (presets/*.yaml, selected by `make preset P=...`): each one is a
valid set of params, and `longtail preset` turns it into the `dvc exp run -S` arguments."""

import subprocess

import pytest
import yaml

PRESETS = ["cifar10", "cifar100", "mnist"]


def preset(root, python, *args, cwd=None):
    return subprocess.run([python, "-m", "longtail", "preset", *args, "--print"], capture_output=True, text=True,
                          cwd=cwd or root)


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_is_valid_and_sets_exactly_its_keys(root, python, name):
    result = preset(root, python, name)
    assert result.returncode == 0, result.stderr
    args = result.stdout.split()
    assert args[::2] == ["-S"] * (len(args) // 2)
    values = yaml.safe_load((root / "presets" / f"{name}.yaml").read_text())
    expected = {f"{s}.{k}" for s, keys in values.items() for k in keys}
    assert {a.split("=")[0] for a in args[1::2]} == expected
    assert f"data.dataset={values['data']['dataset']}" in args


def test_the_cifar10_preset_is_the_seed_papers_setting(root):
    values = yaml.safe_load((root / "presets/cifar10.yaml").read_text())
    assert values["data"]["dataset"] == "cifar10" and values["reference"]["arch"] == "resnet56"
    assert values["compress"]["method"] == "group_sparsity" and values["trials"]["subset_ratio"] == 0.7
    assert values["trials"]["count"] >= 1000


def test_an_unknown_preset_names_the_choices(root, python):
    result = preset(root, python, "imagenet")
    assert result.returncode == 2 and "unknown preset 'imagenet'; choose one of: cifar10, cifar100, mnist" in result.stderr


def test_a_preset_with_a_bad_value_is_refused_before_any_experiment(root, python, tmp_path):
    (tmp_path / "broken.yaml").write_text("trials:\n  subset_ratio: 1.5\n")
    result = preset(root, python, "broken", "--presets", str(tmp_path))
    assert result.returncode == 2 and "trials.subset_ratio = 1.5 is out of range" in result.stderr
    assert result.stdout == ""  # nothing for `dvc exp run` to use
    (tmp_path / "broken.yaml").write_text("training:\n  epochs: 3\n")
    result = preset(root, python, "broken", "--presets", str(tmp_path))
    assert result.returncode == 2 and "'training' is not a params section" in result.stderr
