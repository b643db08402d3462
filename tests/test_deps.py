"""dvc.yaml's source deps are the code's imports (stages/deps.py): a change to a module reruns
exactly the stages that run it."""

import importlib.util
import subprocess

import yaml


def deps_tool(root):
    spec = importlib.util.spec_from_file_location("deps_tool", root / "stages/deps.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dvc_yaml_lists_the_import_closure_of_every_stage(root):
    tool = deps_tool(root)
    assert tool.differences(yaml.safe_load((root / "dvc.yaml").read_text())) == []


def test_a_module_reruns_the_stages_that_run_it_and_no_others(root):
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    users = lambda module: {name for name, s in stages.items() if f"src/longtail/{module}" in s["deps"]}  # noqa: E731
    assert {"reference", "reference_population", "train_trials", "compress"} <= users("losses.py")
    assert users("matched.py") == {"ttest"}  # a ttest-only module reruns nothing upstream of ttest
    assert users("report.py") == {"report"} and users("fit.py") == {"train_trials", "consistency_trials", "report"}
    assert not users("params.py") and not users("cli.py")  # validation and messages: no output changes


def test_lazy_imports_inside_functions_count(root, tmp_path):
    tool = deps_tool(root)
    script = tmp_path / "stage.py"
    script.write_text("import numpy\n\ndef main():\n    from longtail import matched\n    import longtail.models.small\n")
    found = tool.closure(script)
    assert {"src/longtail/__init__.py", "src/longtail/matched.py", "src/longtail/models/__init__.py",
            "src/longtail/models/small.py"} <= set(found)
    assert not any("numpy" in f for f in found)  # only the package's own files

def test_make_deps_rewrites_stale_lists_and_keeps_everything_else(root, python, tmp_path):
    text = (root / "dvc.yaml").read_text()
    stale = text.replace("      - src/longtail/matched.py\n", "", 1).replace(
        "      - stages/cie.py\n", "      - stages/cie.py\n      - src/longtail/engine.py\n", 1)
    (tmp_path / "dvc.yaml").write_text(stale)
    check = subprocess.run([python, str(root / "stages/deps.py"), "--check", "--dvc-file", str(tmp_path / "dvc.yaml")],
                           capture_output=True, text=True)
    said = " ".join(check.stderr.split())
    assert check.returncode == 1 and "ttest: missing ['src/longtail/matched.py']" in said
    assert "cie: missing none, not imported ['src/longtail/engine.py']" in said
    fixed = subprocess.run([python, str(root / "stages/deps.py"), "--dvc-file", str(tmp_path / "dvc.yaml")],
                           capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr
    assert (tmp_path / "dvc.yaml").read_text() == text  # comments, data deps and order as they were
