"""dvc.yaml's source deps are the code's imports (`longtail deps`): a change to a module reruns
exactly the stages that run it."""

import subprocess

import pytest
import yaml

from longtail import LongtailError


def deps_tool(root):
    from longtail.commands import deps

    return deps


def test_dvc_yaml_lists_the_import_closure_of_every_stage(root):
    tool = deps_tool(root)
    assert tool.differences(yaml.safe_load((root / "dvc.yaml").read_text())) == []


def test_a_module_reruns_the_stages_that_run_it_and_no_others(root):
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    users = lambda module: {name for name, s in stages.items() if f"src/longtail/{module}" in s["deps"]}  # noqa: E731
    assert {"reference", "reference_population", "train_trials", "compress"} <= users("train/losses.py")
    assert users("analysis/matched.py") == {"ttest"}  # a ttest-only module reruns nothing upstream of ttest
    assert users("report/markdown.py") == {"report"} and users("train/fitted.py") == {"fit", "consistency_fit", "report"}
    assert not users("params/schema.py") and not users("params/loader.py") and not users("cli.py")  # validation and messages: no output changes


def test_the_registries_that_check_a_stages_params_are_its_deps(root):
    # params/ is exempt, but checking trials.arch imports models.ARCHS: a stage reading trials runs
    # models/, so it lists it (the audit of tests/test_pipeline.py sees the stage open those files).
    tool = deps_tool(root)
    assert root / "src/longtail/train/models/__init__.py" in tool.checked_with("TrialSet")
    assert {"src/longtail/train/models/__init__.py", "src/longtail/train/engine.py"} <= set(tool.derived()["report"][0])


def test_lazy_imports_inside_functions_count(root, tmp_path):
    tool = deps_tool(root)
    script = tmp_path / "stage.py"
    script.write_text("import numpy\n\ndef main():\n    from longtail.analysis import matched\n    import longtail.train.models.small\n")
    found = tool.closure(script)
    assert {"src/longtail/__init__.py", "src/longtail/analysis/matched.py", "src/longtail/train/models/__init__.py",
            "src/longtail/train/models/small.py"} <= set(found)
    assert not any("numpy" in f for f in found)  # only the package's own files



def deps_cli(root, python, dvc_file, *args):
    """`longtail deps` run on `dvc_file` as a user runs it; stderr with its line breaks folded."""
    result = subprocess.run([python, "-m", "longtail", "deps", *args, "--dvc-file", str(dvc_file)],
                            capture_output=True, text=True)
    return result.returncode, " ".join(result.stderr.split())


def test_make_deps_rewrites_stale_source_deps(root, python, tmp_path):
    text = (root / "dvc.yaml").read_text()
    stale = text.replace("    - src/longtail/analysis/matched.py\n", "", 1).replace(
        "    - stages/cie.py\n", "    - stages/cie.py\n    - src/longtail/train/engine.py\n", 1)
    (tmp_path / "dvc.yaml").write_text(stale)
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml", "--check")
    assert code == 1 and "ttest: missing ['src/longtail/analysis/matched.py']" in said
    assert "cie: missing none, not imported ['src/longtail/train/engine.py']" in said
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml")
    assert code == 0, said
    assert (tmp_path / "dvc.yaml").read_text() == text  # written whole, as the layout and the code say


def listed(stage: dict, key: str) -> bool:
    """Whether the stage depends on params key `section.name` (listed by itself or by its section)."""
    return key in (stage.get("params") or []) or key.split(".")[0] in (stage.get("params") or [])


def test_params_are_listed_by_the_keys_each_stage_reads(root):
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    readers = lambda key: {name for name, s in stages.items() if listed(s, key)}  # noqa: E731
    # A ttest knob reruns ttest and the report; nothing upstream of ttest (pie has its own alpha).
    for key in ("ttest.alpha", "ttest.statistic", "ttest.control_draws", "ttest.bins"):
        assert readers(key) == {"ttest", "report"}, key
    # A summary knob retrains nothing; a training knob retrains the trials of both architectures.
    assert readers("trials.fit_threshold") == {"fit", "consistency_fit", "report"}
    assert {"train_trials", "consistency_trials"} <= readers("trials.lr")
    # The second architecture's trials take their network and count from `consistency`.
    assert "consistency_trials" not in readers("trials.arch") | readers("trials.count")
    assert "consistency_trials" in readers("consistency.count")
    # No compression knob retrains a reference; distill's students train with the reference recipe.
    assert not readers("compress.loss") & {"reference", "reference_population", "train_trials"}
    assert "compress" in readers("reference.lr") and "compress" not in readers("reference.arch")
    assert readers("pie.alpha") == {"pie"} and "reference_population" in readers("pie.population")
    # Code: a compression change retrains no reference, a loss change does (training uses losses.ce).
    users = lambda module: {name for name, s in stages.items() if f"src/longtail/{module}" in s["deps"]}  # noqa: E731
    assert users("compress/magnitude.py") and not users("compress/magnitude.py") & {"reference", "reference_population"}
    assert "reference" in users("train/losses.py") and "reference" not in users("compress/recipe.py")


def test_stale_params_lists_are_found_and_rewritten(root, python, tmp_path):
    text = (root / "dvc.yaml").read_text()
    stale = text.replace("    - trials.fit_threshold\n", "", 1).replace("    - pie\n", "    - pie\n    - ttest\n", 1)
    assert stale != text
    (tmp_path / "dvc.yaml").write_text(stale)
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml", "--check")
    assert code == 1 and "fit: params missing ['trials.fit_threshold'], not read none" in said
    assert "pie: params missing none, not read ['ttest']" in said
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml")
    assert code == 0, said
    assert (tmp_path / "dvc.yaml").read_text() == text


def test_a_section_read_by_a_name_the_tool_cannot_see_is_refused(root, tmp_path):
    tool = deps_tool(root)
    script = tmp_path / "stage.py"
    script.write_text("from longtail import params\nname = 'ttest'\nparams.section({}, name, params.Ttest)\n")
    with pytest.raises(LongtailError, match="must name its section and view literally"):
        tool.read_params([script], "python stage.py")
    script.write_text("from longtail import params\np = {}\nparams.section(p, 'trials', params.Fit)\nparams.seed(p)\n")
    assert tool.read_params([script], "python stage.py --x ${consistency.count}") == [
        "seed", "trials.fit_threshold", "consistency.count"]


def test_hand_edited_outs_and_data_deps_are_found_and_rewritten(root, python, tmp_path):
    """dvc.yaml's data deps and outputs come from longtail/layout.py: an output dropped by hand, or a
    dep or output the layout does not name, fails the check, and `longtail deps` writes them back."""
    text = (root / "dvc.yaml").read_text()
    stale = text.replace("    - data/influence/banzhaf.npy\n", "", 1).replace(
        "    - data/compress/reference_pred.npy\n", "    - data/compress/reference_pred.npy\n    - data/compress/extra.npy\n", 1
    ).replace("    - data/cie/masks.npz\n", "    - data/cie/masks.npz\n    - data/elsewhere.npz\n", 1)
    assert stale.count("extra.npy") == 1 and stale.count("elsewhere.npz") == 1 and "- data/influence/banzhaf.npy\n" not in stale
    (tmp_path / "dvc.yaml").write_text(stale)
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml", "--check")
    assert code == 1, said
    assert "estimate: outs missing ['data/influence/banzhaf.npy'], not in the layout none" in said
    assert "compress: outs missing none, not in the layout ['data/compress/extra.npy']" in said
    assert "not in the layout ['data/elsewhere.npz']" in said
    code, said = deps_cli(root, python, tmp_path / "dvc.yaml")
    assert code == 0, said
    assert (tmp_path / "dvc.yaml").read_text() == text
    # a comment added by hand is an edit too: the file is the layout's, whole
    (tmp_path / "dvc.yaml").write_text(text + "# mine\n")
    assert deps_cli(root, python, tmp_path / "dvc.yaml", "--check")[0] == 1
