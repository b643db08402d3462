"""The README and the manual (docs/, built by MkDocs): the site builds with --strict, has the pages a
user looks for, and every file, params key, quoted metric and error message it names is real."""

import json
import re
import subprocess
import sys

import yaml

FENCE = re.compile(r"`([^`\n]+)`")
QUOTED = re.compile(r"(\S+?)<!-- (\S+) (\S+) (\S+) -->")
PAGES = ["getting-started.md", "pipeline.md", "estimator.md", "compression.md", "questions.md", "harm.md",
         "experiments.md", "scaling.md", "reproducibility.md", "datasets.md", "troubleshooting.md", "DESIGN.md",
         "api.md"]


def texts(root) -> dict[str, str]:
    """The README and every page of the manual that is ours (report.md is the run's, written by the report stage)."""
    pages = {"README.md": (root / "README.md").read_text()}
    for page in sorted((root / "docs").glob("*.md")):
        if not page.is_symlink():
            pages[f"docs/{page.name}"] = page.read_text()
    return pages


def test_mkdocs_builds_the_site_strictly_with_every_page_of_the_manual(root, tmp_path):
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=root, capture_output=True, text=True, env={"NO_MKDOCS_2_WARNING": "1", "PATH": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    nav = [next(iter(item.values())) for item in yaml.safe_load((root / "mkdocs.yml").read_text())["nav"]]
    assert set(PAGES) <= set(nav)
    for page in PAGES:
        assert (tmp_path / "site" / page.removesuffix(".md") / "index.html").exists(), page
    api = (tmp_path / "site/api/index.html").read_text()
    assert "longtail.estimate.influence" in api and "doc-function" in api  # generated from the docstrings


def test_the_readme_is_a_front_page_with_a_figure_near_its_top(root):
    lines = (root / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    assert any(re.search(r"!\[[^]]*\]\([^)]+\.png\)", line) for line in lines[:60])
    for needed in ("make repro", "make test", "CITATION.cff", "LICENSE", "docs/"):
        assert needed in "\n".join(lines), needed


def test_no_text_refers_to_issues_sessions_or_this_commit(root):
    said = {name: sorted(set(re.findall(r"\b(?:issues?|sessions?|this commit)\b.{0,30}", text, re.I)))
            for name, text in texts(root).items()}
    assert {name: found for name, found in said.items() if found} == {}


PLACEHOLDER = re.compile(r"<|>|\bNAME\b|\bFILE\b|\bFUNCTION\b|my_|\.\.\.|…|\$|\*|^\w+://|^-")
# Files a user brings, or that a run writes where its params say: named by the manual, not shipped.
BROUGHT = ("data/raw/", "data/trials/shards", "data/consistency/trials/shards", "dvc_plots", "site", ".ci/node_modules",
           "../longtail-dvc-remote", "mlxtend/", "models/my", "origin/main")


def shipped(root) -> set[str]:
    """Every path of the repository: git's files and their folders, and the outputs dvc.yaml declares."""
    files = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for stage in stages.values():
        for out in [*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])]:
            files.append(next(iter(out)) if isinstance(out, dict) else out)
    paths = set()
    for f in files:
        parts = f.rstrip("/").split("/")
        paths |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return paths


def named_paths(text: str) -> set[str]:
    """What a page writes in backticks that is a path: a word with a slash, no spaces, no placeholder."""
    found = set()
    for span in FENCE.findall(text):
        for word in span.split():
            word = word.strip(",;:()'\"").removeprefix("./")
            if "/" in word and not PLACEHOLDER.search(word) and re.fullmatch(r"[\w.{},/-]+", word):
                found.add(word)
    return found


def expand(word: str) -> list[str]:
    """`data/prepared/{train,test}.npz` -> both files."""
    match = re.search(r"\{([^}]*)\}", word)
    if not match:
        return [word]
    return [w for part in match.group(1).split(",") for w in expand(word[:match.start()] + part + word[match.end():])]


# The repository's folders: a path under one of them is the project's, not a word that holds a slash.
OURS = {"src", "stages", "tests", "benchmarks", "data", "metrics", "plots", "dvclive", "docs", "models", "presets",
        ".github", ".ci", ".dvc"}


def test_every_file_and_folder_the_manual_names_exists(root):
    there = shipped(root)
    missing = {}
    for name, text in texts(root).items():
        for word in named_paths(text):
            for path in expand(word):
                path = path.rstrip("/")
                if path.startswith(BROUGHT) or path in there or (root / path).exists():
                    continue
                if path.split("/")[0] in OURS or path.endswith((".py", ".json", ".yaml", ".md", ".npy", ".npz")):
                    missing.setdefault(name, []).append(path)
    assert missing == {}


def params_keys(text: str, sections: set[str]) -> set[str]:
    """`section.key` (or `section.key=value`, `-S section.key=...`) where section is one of params.yaml's."""
    words = {w for span in FENCE.findall(text) for w in span.split()} | set(re.findall(r"-S '?([\w.]+)=", text))
    keys = set()
    for word in words:
        word = word.strip(",;:()'\"")
        match = re.fullmatch(r"([a-z_]+)\.([a-z_0-9.]+?)(=.*)?", word)
        if match and match.group(1) in sections and not re.search(r"\.(json|yaml|md|py|npy|npz|csv|png)$", word):
            keys.add(f"{match.group(1)}.{match.group(2)}")
    return keys


MISSPELT = {"trials.epoch"}  # the manual's example of a key the check refuses


def test_every_params_key_the_manual_names_is_in_params_yaml(root):
    params = yaml.safe_load((root / "params.yaml").read_text())
    sections = {k for k, v in params.items() if isinstance(v, dict)}
    unknown = {}
    for name, text in texts(root).items():
        for key in params_keys(text, sections):
            section, knob = key.split(".")[:2]  # a knob's value may be a mapping (compress.sweep...): its name counts
            if knob not in params[section] and key not in MISSPELT:
                unknown.setdefault(name, []).append(key)
    assert unknown == {}


def test_a_misspelt_params_key_or_a_missing_file_is_caught(root):
    sections = {"trials", "compress"}
    assert params_keys("run `dvc exp run -S trials.epoch=3` and `compress.loss`", sections) == {"trials.epoch",
                                                                                            "compress.loss"}
    assert named_paths("see `src/longtail/estimate/nul.py` and `data/raw/NAME/train.npz`") == {
        "src/longtail/estimate/nul.py"}
    assert expand("data/prepared/{train,test}.npz") == ["data/prepared/train.npz", "data/prepared/test.npz"]
    assert "src/longtail/estimate/nul.py" not in shipped(root)


def test_the_figures_the_readme_and_the_manual_quote_from_a_metrics_file_are_what_they_say(root):
    # Each quoted figure is followed by `<!-- file key format -->`: the committed metric, formatted so,
    # is the figure (a page that quotes a run before the last one fails here).
    from longtail.report.verify import flatten

    quoted = [q for text in texts(root).values() for q in QUOTED.findall(text)]
    assert len(quoted) >= 60
    wrong = []
    for figure, file, key, spec in quoted:
        value = flatten(json.loads((root / file).read_text()))[key]
        if format(value, spec) != figure.lstrip("(["):
            wrong.append(f"{figure} quotes {file} {key} = {format(value, spec)}")
    assert wrong == []
    assert QUOTED.findall((root / "README.md").read_text()), "the README's results table quotes the metrics"


def troubleshooting_messages(root) -> list[str]:
    rows = [line for line in (root / "docs/troubleshooting.md").read_text().splitlines() if line.startswith("| `")]
    return [fragment for row in rows for fragment in FENCE.findall(row.split("|")[1])]


EXTERNAL = {"THESE PACKAGES DO NOT MATCH THE HASHES"}  # pip's own words


def test_the_troubleshooting_pages_messages_are_the_codes(root):
    code = "".join(p.read_text() for folder in ("src", "stages", "tests") for p in sorted((root / folder).rglob("*.py")))
    code += (root / "Makefile").read_text()
    messages = troubleshooting_messages(root)
    assert len(messages) >= 50
    assert [m for m in messages if m not in code and m not in EXTERNAL] == []
