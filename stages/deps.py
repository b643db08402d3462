"""deps: dvc.yaml's source dependencies, derived from the code. For each stage, the modules of
src/longtail its script imports, transitively, lazy imports inside functions included, replace the
`src/longtail/...` entries of its deps list (data, metrics and the other deps stay as written).

    python stages/deps.py           # rewrite dvc.yaml (or: make deps)
    python stages/deps.py --check   # exit 1 and list the differences when dvc.yaml and the code disagree

Not a pipeline stage. Left out on purpose (EXEMPT): modules that cannot change an output, so that
editing them reruns nothing."""

import ast
import re
from pathlib import Path

import typer
import yaml

from longtail import LongtailError, cli

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "longtail"
# Modules that cannot change an output, neither listed nor followed (their own imports do not count):
# cli.py prints messages and progress bars; params.py validates params (every value comes from
# params.yaml, which DVC tracks key by key, and params.section refuses a missing key, so none of its
# defaults reaches an output) and, checking names, imports every registry of the library.
EXEMPT = {"src/longtail/cli.py", "src/longtail/params.py"}

app = cli.app(__doc__)


def module_file(name: str) -> Path | None:
    """The file of module `name` (longtail.x.y), or None when it names no module of the package."""
    parts = name.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported(path: Path) -> set[Path]:
    """The package's files that `path` imports directly, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from longtail import cli` imports the module longtail.cli; `from longtail import
            # LongtailError` imports a name of longtail/__init__.py.
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name == "longtail" or name.startswith("longtail."):
                # importing longtail.x.y runs longtail/__init__.py and longtail/x/__init__.py first
                parts = name.split(".")
                found |= {f for i in range(1, len(parts) + 1) if (f := module_file(".".join(parts[:i])))}
    return found


def closure(script: Path) -> list[str]:
    """Every package file `script` runs, transitively, as repository-relative paths, sorted."""
    todo, seen = [script], set()
    while todo:
        for dep in imported(todo.pop()) - seen:
            if dep.relative_to(ROOT).as_posix() not in EXEMPT:
                seen.add(dep)
                todo.append(dep)
    return sorted(p.relative_to(ROOT).as_posix() for p in seen)


def script_of(cmd: str) -> Path:
    match = re.search(r"python (stages/\w+\.py)", cmd)
    if not match:
        raise LongtailError(f"cannot find the stage script in its command {cmd!r}")
    return ROOT / match.group(1)


def derived(dvc_yaml: dict) -> dict[str, list[str]]:
    """stage -> its source deps, from its script's import closure."""
    return {name: closure(script_of(stage["cmd"])) for name, stage in dvc_yaml["stages"].items()}


def rewrite(text: str, wanted: dict[str, list[str]]) -> str:
    """dvc.yaml's text with each stage's `- src/longtail/...` deps replaced by `wanted[stage]`, placed
    after the stage's script; every other line (comments included) as it was."""
    out, stage, in_deps = [], None, False
    for line in text.splitlines():
        if m := re.match(r"^  (\w+):\s*$", line):
            stage, in_deps = m.group(1), False
        elif re.match(r"^    deps:\s*$", line):
            in_deps = True
        elif re.match(r"^    \w+:", line):
            in_deps = False
        if in_deps and re.match(r"^      - src/longtail/", line):
            continue
        out.append(line)
        if in_deps and stage in wanted and re.match(r"^      - stages/\w+\.py\s*$", line):
            out.extend(f"      - {dep}" for dep in wanted[stage])
    return "\n".join(out) + "\n"


def differences(dvc_yaml: dict) -> list[str]:
    """Where dvc.yaml's source deps and the code's imports disagree, a line per stage."""
    lines = []
    for name, wanted in derived(dvc_yaml).items():
        listed = sorted(d for d in dvc_yaml["stages"][name]["deps"] if d.startswith("src/longtail/"))
        if listed != wanted:
            missing, extra = sorted(set(wanted) - set(listed)), sorted(set(listed) - set(wanted))
            lines.append(f"{name}: missing {missing or 'none'}, not imported {extra or 'none'}")
    return lines


@app.command()
def main(check: bool = typer.Option(False, "--check", help="only compare; exit 1 where they disagree"),
         dvc_file: Path = typer.Option(ROOT / "dvc.yaml", "--dvc-file")):
    with cli.errors():
        if not dvc_file.exists():
            raise LongtailError(f"{dvc_file} not found")
        text = dvc_file.read_text()
        dvc_yaml = yaml.safe_load(text)
        if check:
            if lines := differences(dvc_yaml):
                for line in lines:
                    cli.say(line)
                cli.say("dvc.yaml's source deps disagree with the code: run `make deps`")
                raise typer.Exit(1)
            cli.say(f"dvc.yaml's source deps match the code's imports ({len(dvc_yaml['stages'])} stages)")
            return
        dvc_file.write_text(rewrite(text, derived(dvc_yaml)))
        cli.say(f"{dvc_file}: source deps rewritten from the imports of {len(dvc_yaml['stages'])} stages")


if __name__ == "__main__":
    app()
