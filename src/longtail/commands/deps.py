"""deps: dvc.yaml, written whole from the code: each stage of longtail.layout.STAGES with its
command, its data deps and outputs (the layout's paths), and what the code says it runs and reads:

- deps: the modules of src/longtail its script imports, transitively, lazy imports inside functions
  included, and those that checking the params it reads imports (the registries of names, such as
  models.ARCHS);
- params: the keys it reads, found in its script and those modules: `params.section(p, "name",
  params.View)` reads the fields of View (the section's name alone where every key of the section
  is read), `params.seed` and `params.device` the top-level keys, and `${key}` in the command that
  key; a key the command replaces by an option (the script's REPLACES: {"--arch": "trials.arch"})
  is not read. params.check_statistic reads two keys only to refuse a combination before any work: a
  refusal changes no output, so they are not listed.

    longtail deps           # rewrite dvc.yaml (or: make deps)
    longtail deps --check   # exit 1 and list the differences where dvc.yaml and the code disagree

Left out on purpose (EXEMPT): modules that cannot change an output, so that editing them reruns
nothing."""

import ast
import dataclasses
import functools
import re
from collections.abc import Iterator
from pathlib import Path

import typer
import yaml

from longtail import LongtailError, cli, layout, params
from longtail.commands import ROOT

PACKAGE = ROOT / "src" / "longtail"
# Modules that cannot change an output, not listed (what they import at their top level is: closure()):
# cli.py prints messages and progress bars; params/ validates params (every value comes from
# params.yaml, which DVC tracks key by key, and params.section refuses a missing key, so none of its
# defaults reaches an output) and, checking names, imports every registry of the library.
EXEMPT = {"src/longtail/cli.py", *(f"src/longtail/params/{name}.py" for name in ("__init__", "loader", "schema"))}


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
                        f'params.section(p, "name", params.View), for `longtail deps` to list what it reads')


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


def views(files: list[Path]) -> set[str]:
    """The params views that `params.section` calls in `files` build."""
    return {_literal_section(call, where)[1] for name, call, where in params_calls(files) if name == "section"}


ALL_VIEWS = {cls.__name__ for classes in params.SECTIONS.values() for cls in classes}


def checked_with(view: str) -> set[Path]:
    """The package files that checking params view `view` imports: the registries its names are
    checked against (models.ARCHS, losses.LOSSES, ...), imported inside the methods of its class and
    its bases. params/ is exempt, but a stage runs these modules, so it lists them."""
    tree = parsed(PACKAGE / "params" / "schema.py")
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    return set().union(*(imported_in(classes[c.__name__]) for c in getattr(params, view).__mro__
                         if c.__name__ in classes))


HEADER = """\
# Written by `longtail deps` from longtail/layout.py (each stage's command, data deps and outputs) and
# the code (the modules each stage runs, the params keys it reads): edit those and run `make deps`; a
# test fails where this file and they disagree. Large arrays are DVC-cached (dvc push sends them to the
# remote); metrics and plots are small and kept in git (cache: false). The modules that cannot change
# an output are left out (longtail deps' EXEMPT: messages, params validation), so that a cosmetic
# change never retrains hundreds of models.
"""


def command(stage: layout.Stage) -> str:
    return " ".join([f"python stages/{stage.script}.py", *stage.options])


REGISTRY = "src/longtail/train/models/__init__.py"  # the architecture registry: who imports it builds networks


def derived(stages: dict[str, layout.Stage] = layout.STAGES) -> dict[str, tuple[list[str], list[str]]]:
    """stage -> (its source deps: its script's import closure and what checking its params runs;
    the params keys they read)."""
    out = {}
    for name, stage in stages.items():
        script = ROOT / "stages" / f"{stage.script}.py"
        if not script.is_file():
            raise LongtailError(f"layout.STAGES[{name!r}] runs {script.relative_to(ROOT)}, which does not exist")
        files = [script, *(ROOT / d for d in closure(script))]
        # A stage that depends on params.yaml whole (check) runs every view's checks and lists no keys.
        whole = "params.yaml" in stage.deps
        checked = ALL_VIEWS if whole else views(files)
        deps = closure(script, *set().union(*(checked_with(view) for view in checked)))
        out[name] = deps, [] if whole else read_params(files, command(stage))
    return out


def pipeline(stages: dict[str, layout.Stage] = layout.STAGES) -> dict:
    """dvc.yaml as a mapping: each stage's command, deps (its script, the modules it runs, what it
    reads), params, outputs, metrics and curves; then the plots `dvc plots show` draws."""
    code = derived(stages)
    out = {}
    for name, stage in stages.items():
        modules, keys = code[name]
        entry = {"desc": stage.about} if stage.about else {}
        # The users' network files (models/FILE.py:FUNCTION) are deps of the stages that build networks.
        networks = [layout.NETWORKS] if REGISTRY in modules else []
        entry |= {"cmd": command(stage), "deps": [f"stages/{stage.script}.py", *modules, *networks, *stage.deps]}
        entry |= {"params": keys} if keys else {}
        kept = {"cache": False} | ({"persist": True} if stage.persist else {})
        outs = [{p: kept} if stage.persist else p for p in stage.outs] + [{p: {"cache": False}} for p in stage.kept]
        curves = (f"{stage.curves}/metrics.json",) if stage.curves else ()
        metrics = [{p: {"cache": False}} for p in (*stage.metrics, *curves)]
        entry |= ({"outs": outs} if outs else {}) | ({"metrics": metrics} if metrics else {})
        if stage.curves:
            entry["plots"] = [{f"{stage.curves}/plots/metrics": {"x": "step", "cache": False}}]
        out[name] = entry
    return {"stages": out, "plots": layout.PLOTS_SHOWN}


def render(stages: dict[str, layout.Stage] = layout.STAGES) -> str:
    return HEADER + yaml.safe_dump(pipeline(stages), sort_keys=False, width=110, allow_unicode=True)


def _listed(items) -> list[str]:
    """The paths of a dvc.yaml list, an entry with options ({path: {cache: false}}) by its path."""
    return [next(iter(i)) if isinstance(i, dict) else i for i in items or []]


def _sources(items) -> list[str]:
    return sorted(p for p in _listed(items) if p.startswith("src/longtail/"))


def _data(items) -> list[str]:
    return [p for p in _listed(items) if not p.startswith("src/longtail/")]


def differences(dvc_yaml: dict, wanted: dict | None = None) -> list[str]:
    """Where dvc.yaml and the layout and code disagree: a line per stage and kind."""
    wanted = wanted or pipeline()
    lines = []
    have, want = dvc_yaml.get("stages") or {}, wanted["stages"]
    for name in [*want, *(n for n in have if n not in want)]:
        if name not in have or name not in want:
            lines.append(f"{name}: {'missing' if name in want else 'not a stage of longtail/layout.py'}")
            continue
        h, w, before = have[name], want[name], len(lines)
        listed, derived_ = _sources(h.get("deps")), _sources(w["deps"])
        if listed != derived_:
            missing, extra = sorted(set(derived_) - set(listed)), sorted(set(listed) - set(derived_))
            lines.append(f"{name}: missing {missing or 'none'}, not imported {extra or 'none'}")
        listed, keys = h.get("params") or [], w.get("params") or []
        if sorted(listed) != sorted(keys):
            missing, extra = [k for k in keys if k not in listed], [k for k in listed if k not in keys]
            lines.append(f"{name}: params missing {missing or 'none'}, not read {extra or 'none'}")
        for kind in ("deps", "outs", "metrics", "plots"):
            listed, laid = _data(h.get(kind)), _data(w.get(kind))
            if listed != laid:
                missing, extra = [p for p in laid if p not in listed], [p for p in listed if p not in laid]
                lines.append(f"{name}: {kind} missing {missing or 'none'}, not in the layout {extra or 'none'}"
                             if missing or extra else f"{name}: {kind} in another order than the layout's")
        for kind in ("cmd", "desc"):
            if h.get(kind) != w.get(kind):
                lines.append(f"{name}: {kind} {h.get(kind)!r}, the layout's {w.get(kind)!r}")
        if h != w and len(lines) == before:
            lines.append(f"{name}: an option of an output differs from the layout's")
    if dvc_yaml.get("plots") != wanted["plots"]:
        lines.append("plots: differ from longtail/layout.py's PLOTS_SHOWN")
    return lines


def main(check: bool = typer.Option(False, "--check", help="only compare; exit 1 where they disagree"),
         dvc_file: Path = typer.Option(ROOT / "dvc.yaml", "--dvc-file")):
    with cli.errors():
        text = render()
        if check:
            if not dvc_file.exists():
                raise LongtailError(f"{dvc_file} not found: write it with `longtail deps`")
            current = dvc_file.read_text()
            if current != text:
                for line in differences(yaml.safe_load(current) or {}) or ["the text differs (a comment or the layout of the file)"]:
                    cli.say(line)
                cli.say(f"{dvc_file} disagrees with longtail/layout.py and the code: run `make deps`")
                raise typer.Exit(1)
            cli.say(f"{dvc_file} matches longtail/layout.py and the code's imports ({len(layout.STAGES)} stages)")
            return
        dvc_file.write_text(text)
        cli.say(f"{dvc_file}: written from longtail/layout.py and the imports of {len(layout.STAGES)} stages")
