"""The house as docs/DESIGN.md draws it: the package mirrors the pipeline, params sits on top, the
import graph runs one way, and stages/ holds only the scripts dvc.yaml runs, each a shell."""

from pathlib import Path

import yaml

from longtail import layout
from longtail.commands import deps

PACKAGE = deps.PACKAGE
TOP = {"params", "commands", "stage.py", "__main__.py"}  # what may import params: the stages' edge
SHELL_LINES = 60  # a stage script's length, docstring, options and messages included


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def graph() -> dict[Path, set[Path]]:
    """module -> the package's modules it imports, at any depth of its code (lazy imports too). A
    module's own packages (their __init__.py, which importing a sibling runs first) are not edges:
    a package that imports its modules, as params/ does, is Python's way, not a cycle."""
    return {path: {q for q in deps.imported(path) - {path}
                   if not (q.name == "__init__.py" and path.is_relative_to(q.parent))} for path in modules()}


def test_the_import_graph_has_no_cycle():
    edges, state, cycles = graph(), {}, []

    def visit(node, path):
        state[node] = "open"
        for nxt in edges[node]:
            if state.get(nxt) == "open":
                cycles.append([p.relative_to(PACKAGE).as_posix() for p in path[path.index(nxt):] + [nxt]])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for node in edges:
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_no_library_module_imports_params():
    params = {p for p in modules() if p.is_relative_to(PACKAGE / "params")}
    library = [p for p in modules() if p.relative_to(PACKAGE).parts[0] not in TOP]
    found = {p.relative_to(PACKAGE).as_posix(): sorted(q.relative_to(PACKAGE).as_posix() for q in deps.imported(p) & params)
             for p in library if deps.imported(p) & params}
    assert found == {}, found
    # the package is a folder per pipeline phase over a small core
    assert {p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__"} == {
        "analysis", "commands", "compress", "data", "estimate", "params", "report", "train"}


def test_stages_holds_only_the_scripts_dvc_yaml_runs_each_a_shell(root):
    scripts = {p.stem for p in (root / "stages").glob("*.py")}
    assert scripts == {stage.script for stage in layout.STAGES.values()}
    commands = {stage["cmd"].split()[1] for stage in yaml.safe_load((root / "dvc.yaml").read_text())["stages"].values()}
    assert commands == {f"stages/{name}.py" for name in scripts}
    lengths = {name: len((root / "stages" / f"{name}.py").read_text().splitlines()) for name in scripts}
    assert max(lengths.values()) <= SHELL_LINES, lengths


def test_every_path_a_stage_writes_names_its_writer():
    for name, stage in layout.STAGES.items():
        for path in layout.writes(stage):
            assert layout.writer(path) == name, path
    assert layout.writer("/elsewhere/data/consistency/trials/masks.npy") == "consistency_trials"
    assert layout.writer("somewhere/else.npy") == "<stage>"
