"""deps: dvc.yaml's source dependencies and params, derived from the code. For each stage:

- deps: the modules of src/longtail its script imports, transitively, lazy imports inside functions
  included, and those that checking the params it reads imports (the registries of names, such as
  models.ARCHS), replace the `src/longtail/...` entries (data, metrics and the other deps stay as written);
- params: the keys it reads, found in its script and those modules: `params.section(p, "name",
  params.View)` reads the fields of View (the section's name alone where every key of the section
  is read), `params.seed` and `params.device` the top-level keys, and `${key}` in the command that
  key; a key the command replaces by an option (the script's REPLACES: {"--arch": "trials.arch"})
  is not read. params.check_statistic reads two keys only to refuse a combination before any work: a
  refusal changes no output, so they are not listed.

    python stages/deps.py           # rewrite dvc.yaml (or: make deps)
    python stages/deps.py --check   # exit 1 and list the differences when dvc.yaml and the code disagree

Not a pipeline stage. Left out on purpose (EXEMPT): modules that cannot change an output, so that
editing them reruns nothing."""

import ast
import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import typer
import yaml

from longtail import LongtailError, cli, params

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "longtail"
# Modules that cannot change an output, neither listed nor followed (their own imports do not count):
# cli.py prints messages and progress bars; params.py validates params (every value comes from
# params.yaml, which DVC tracks key by key, and params.section refuses a missing key, so none of its
# defaults reaches an output) and, checking names, imports every registry of the library.
EXEMPT = {"src/longtail/cli.py", *(f"src/longtail/params/{name}.py" for name in ("__init__", "loader", "schema"))}

app = cli.app(__doc__)


def module_file(name: str) -> Path | None:
    """The file of module `name` (longtail.x.y), or None when it names no module of the package."""
    parts = name.split(".")[1:]
    path = PACKAGE.joinpath(*parts)
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def parsed(path: Path) -> ast.Module:
    """The syntax tree of `path`: each stage reads its modules several times (imports, views, params)
    and the stages share most of them, so a file is parsed once per content."""
    return _parse(path.read_text(), str(path))


@functools.cache
def _parse(source: str, filename: str) -> ast.Module:
    return ast.parse(source, filename)


def imported(path: Path) -> set[Path]:
    """The package's files that `path` imports directly, at any depth of its code."""
    return imported_in(parsed(path))


def imported_in(tree: ast.AST) -> set[Path]:
    """The package's files that the code `tree` imports, at any depth."""
    found = set()
    for node in ast.walk(tree):
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


def closure(script: Path, *more: Path) -> list[str]:
    """Every package file `script` runs, transitively, as repository-relative paths, sorted; `more`:
    package files it runs besides its imports (those checking its params import). An exempt module
    is not listed, but what it imports at its top level runs with it and is (params' schema imports
    the training recipe); its lazy imports are the registries checked_with finds."""
    todo, seen, followed = [script, *more], set(more), set()
    while todo:
        path = todo.pop()
        for dep in (top_level_imports(path) if exempt(path) else imported(path)) - seen - followed:
            (followed if exempt(dep) else seen).add(dep)
            todo.append(dep)
    return sorted(p.relative_to(ROOT).as_posix() for p in seen)


def exempt(path: Path) -> bool:
    return path.is_relative_to(ROOT) and path.relative_to(ROOT).as_posix() in EXEMPT


def top_level_imports(path: Path) -> set[Path]:
    """The package's files that `path` imports when it is imported: its module-level imports."""
    body = [node for node in parsed(path).body if isinstance(node, (ast.Import, ast.ImportFrom))]
    return imported_in(ast.Module(body=body, type_ignores=[]))


def _literal_section(call: ast.Call, where: str) -> tuple[str, str]:
    """(section, view class name) of a `params.section(p, "name", params.View)` call."""
    if len(call.args) == 3 and isinstance(name := call.args[1], ast.Constant) and isinstance(name.value, str) \
            and isinstance(view := call.args[2], ast.Attribute) and isinstance(view.value, ast.Name) \
            and view.value.id == "params" and hasattr(params, view.attr):
        return name.value, view.attr
    raise LongtailError(f"{where}: params.section(...) must name its section and view literally, "
                        f'params.section(p, "name", params.View), for stages/deps.py to list what it reads')


def replaced(script: Path, cmd: str) -> set[str]:
    """The params keys `cmd` replaces by options of `script` (its module-level REPLACES dict)."""
    for node in parsed(script).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "REPLACES" for t in node.targets):
            return {key for option, key in ast.literal_eval(node.value).items() if re.search(rf"{option}\b", cmd)}
    return set()


def params_calls(files: list[Path]) -> Iterator[tuple[str, ast.Call, str]]:
    """Every `params.<name>(...)` call in `files`: (name, the call, "path:line" to name it by)."""
    for path in files:
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "params":
                yield node.func.attr, node, f"{path}:{node.lineno}"


def read_params(files: list[Path], cmd: str) -> list[str]:
    """The params keys read by the stage whose script is files[0], its modules files[1:], and its
    command `cmd`; in params.yaml's order: seed, device, then section by section."""
    found = []
    for name, call, where in params_calls(files):
        if name == "section":
            section, view = _literal_section(call, where)
            fields = [f.name for f in dataclasses.fields(getattr(params, view))]
            whole = set(fields) == set(params.keys(section))
            found += [section] if whole else [f"{section}.{key}" for key in fields]
        elif name in ("seed", "device"):
            found.append(name)
    found = [key for key in found if key not in replaced(files[0], cmd)]
    found += re.findall(r"\$\{([\w.]+)\}", cmd)
    # A section all of whose keys are read (by one view or by several) is listed by its name.
    whole = {name for name in params.SECTIONS
             if name in found or all(f"{name}.{key}" in found for key in params.keys(name))}
    keys = set(key.split(".")[0] if key.split(".")[0] in whole else key for key in found)

    def order(key):
        section, _, name = key.partition(".")
        return params.TOP_LEVEL.index(section), params.keys(section).index(name) if name else -1

    return sorted(keys, key=order)


def script_of(cmd: str) -> Path:
    match = re.search(r"python (stages/\w+\.py)", cmd)
    if not match:
        raise LongtailError(f"cannot find the stage script in its command {cmd!r}")
    return ROOT / match.group(1)


def views(files: list[Path]) -> set[str]:
    """The params views that `params.section` calls in `files` build."""
    return {_literal_section(call, where)[1] for name, call, where in params_calls(files) if name == "section"}


ALL_VIEWS = {cls.__name__ for classes in params.SECTIONS.values() for cls in classes}


def checked_with(view: str) -> set[Path]:
    """The package files that checking params view `view` imports: the registries its names are
    checked against (models.ARCHS, losses.LOSSES, ...), imported inside the methods of its class and
    its bases. params.py is exempt, but a stage runs these modules, so it lists them."""
    tree = parsed(PACKAGE / "params" / "schema.py")
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    return set().union(*(imported_in(classes[c.__name__]) for c in getattr(params, view).__mro__
                         if c.__name__ in classes))


def derived(dvc_yaml: dict) -> dict[str, tuple[list[str], list[str]]]:
    """stage -> (its source deps: its script's import closure and what checking its params runs;
    the params keys they read)."""
    out = {}
    for name, stage in dvc_yaml["stages"].items():
        script = script_of(stage["cmd"])
        files = [script, *(ROOT / d for d in closure(script))]
        # A stage that depends on params.yaml whole (check) runs every view's checks and lists no keys.
        whole = "params.yaml" in stage.get("deps", [])
        checked = ALL_VIEWS if whole else views(files)
        deps = closure(script, *set().union(*(checked_with(view) for view in checked)))
        out[name] = deps, [] if whole else read_params(files, stage["cmd"])
    return out


def rewrite(text: str, wanted: dict[str, tuple[list[str], list[str]]]) -> str:
    """dvc.yaml's text with each stage's `- src/longtail/...` deps replaced by its wanted deps, placed
    after the stage's script, and its params list by its wanted params (a params block added before
    its outs where it has none); every other line, comments included, as it was."""
    out, stage, block, has_params = [], None, None, False

    def params_block():
        if stage in wanted and wanted[stage][1]:
            out.extend(["    params:", *(f"      - {key}" for key in wanted[stage][1])])

    for line in text.splitlines():
        if re.match(r"^\S", line):  # a top-level key (stages:, plots:) ends the stage before it
            stage, block = None, None
        elif m := re.match(r"^  (\w+):\s*$", line):
            stage, block, has_params = m.group(1), None, False
        elif m := re.match(r"^    (\w+):\s*$", line):
            block = m.group(1)
            if block == "params":
                has_params = True
                params_block()
                continue
            if block in ("outs", "metrics", "plots") and stage and not has_params:
                has_params = True
                params_block()
        if block == "params" and re.match(r"^      (- |#)", line):
            continue
        if block == "deps" and re.match(r"^      - src/longtail/", line):
            continue
        out.append(line)
        if block == "deps" and stage in wanted and re.match(r"^      - stages/\w+\.py\s*$", line):
            out.extend(f"      - {dep}" for dep in wanted[stage][0])
    return "\n".join(out) + "\n"


def differences(dvc_yaml: dict) -> list[str]:
    """Where dvc.yaml's source deps or params and the code disagree, a line per stage and kind."""
    lines = []
    for name, (deps, keys) in derived(dvc_yaml).items():
        stage = dvc_yaml["stages"][name]
        listed = sorted(d for d in stage["deps"] if d.startswith("src/longtail/"))
        if listed != deps:
            missing, extra = sorted(set(deps) - set(listed)), sorted(set(listed) - set(deps))
            lines.append(f"{name}: missing {missing or 'none'}, not imported {extra or 'none'}")
        listed_keys = stage.get("params") or []
        if sorted(listed_keys) != sorted(keys):
            missing, extra = [k for k in keys if k not in listed_keys], [k for k in listed_keys if k not in keys]
            lines.append(f"{name}: params missing {missing or 'none'}, not read {extra or 'none'}")
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
