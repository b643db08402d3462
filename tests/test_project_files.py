"""The files a user builds on: a license, a citation that validates, a changelog, one version."""

import json
import re
import subprocess
import tomllib

import jsonschema
import yaml


def test_the_citation_validates_against_the_citation_file_formats_schema_and_cites_the_papers(root):
    schema = json.loads((root / "tests/schemas/citation-file-format-1.2.0.json").read_text())
    citation = yaml.safe_load((root / "CITATION.cff").read_text())
    jsonschema.validate(citation, schema)  # raises, naming the key, where it does not
    titles = " ".join(ref["title"] for ref in citation["references"])
    for paper in ("What Neural Networks Memorize and Why", "Long Tail on Neural Network Compression",
                  "What Do Compressed Deep Neural Networks Forget?"):
        assert paper in titles
    broken = dict(citation, authors="nobody")
    try:
        jsonschema.validate(broken, schema)
    except jsonschema.ValidationError:
        pass
    else:
        raise AssertionError("the schema admits authors that are not a list")


def test_one_version_in_pyproject_the_citation_the_changelog_and_longtail_version(root, python):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    version = project["version"]
    assert yaml.safe_load((root / "CITATION.cff").read_text())["version"] == version
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", (root / "CHANGELOG.md").read_text(),
                     re.MULTILINE)
    said = subprocess.run([python, "-m", "longtail", "--version"], capture_output=True, text=True, cwd=root)
    assert said.returncode == 0 and said.stdout.strip() == f"longtail {version}"


def test_the_license_is_the_one_pyproject_declares(root):
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT" and (root / "LICENSE").read_text().startswith("MIT License")
