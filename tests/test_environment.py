"""Pinned, and said so: requirements.lock pins every dependency, the environment holds exactly its
versions (make install), and each run records where it came from (metrics/environment.json)."""

import json
import re
import sysconfig
import tomllib
from importlib import metadata

from longtail import environment


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(root) -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", (root / "requirements.lock").read_text(), re.M)
    return {normal(name): version for name, version in pins}


def test_every_dependency_of_pyproject_is_pinned_with_its_hashes(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = {normal(re.match(r"[A-Za-z0-9._-]+", spec).group()) for spec in wanted}
    pins = locked(root)
    assert names - set(pins) == set()
    text = (root / "requirements.lock").read_text()
    assert len(pins) >= 100
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert all("--hash=sha256:" in entry for entry in entries if "==" in entry)


def test_the_installed_versions_are_the_locked_ones(root):
    # make install installs requirements.lock with --require-hashes: a fresh clone holds exactly these.
    # Only the environment's own site-packages, as pip freeze lists it: setuptools puts the copies of
    # packaging and platformdirs it vendors on sys.path once imported, older ones, with metadata.
    site = sysconfig.get_paths()["purelib"]
    installed = {normal(d.metadata["Name"]): d.version for d in metadata.distributions(path=[site])}
    differ = {name: (version, installed.get(name)) for name, version in locked(root).items()
              if installed.get(name) != version}
    assert differ == {}, "run `make install` (or `make lock` after changing pyproject.toml)"


def test_the_environment_names_the_versions_the_cpu_and_the_gpu():
    env = environment.describe()
    assert set(env) == {"longtail", "python", "torch", "cuda", "numpy", "os", "cpu", "cpus", "gpu"}
    assert env["longtail"] == metadata.version("longtail") and env["cpu"] and env["cpus"] >= 1
    assert environment.differences(env, env) == []
    assert environment.differences(env, env | {"torch": "9.9", "gpu": "H100"}) == ["torch", "gpu"]
    assert environment.differences(None, env) == [k for k, v in env.items() if v is not None]
    assert environment.line(None) == "not recorded"
    assert "no GPU" in environment.line(env | {"gpu": None}) and "H100" in environment.line(env | {"gpu": "H100"})


def test_the_committed_run_records_its_environment(root):
    env = json.loads((root / "metrics/environment.json").read_text())
    assert set(env) == set(environment.describe()) and env["longtail"]
