"""params.yaml read (YAML 1.2, as DVC writes it) and checked against the schema: unknown keys, wrong
types and values out of range raise LongtailError with the key, the value and what is allowed."""

import dataclasses
import difflib
import math
import re
from pathlib import Path

import yaml

from longtail import LongtailError
from longtail.checks import check_range
from longtail.params.schema import SECTIONS, TOP_LEVEL, check_statistic


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2's booleans and floats. DVC writes params.yaml (`dvc exp
    run -S trials.compile=off -S trials.weight_decay=5e-4`) with ruamel.yaml, a YAML 1.2 library:
    it leaves `off`, `on`, `yes` and `no` unquoted as strings, and writes 5e-4 as a float, where
    YAML 1.1 reads booleans and the string '5e-4'."""


_BOOL, _FLOAT = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:float"
_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_BOOL, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Loader.add_implicit_resolver(  # YAML 1.2 core schema floats (an integer stays an integer)
    _FLOAT, re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?"
                       r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def _mapping(loader, node, deep=False):
    """A mapping whose keys are unique: YAML would keep the last of two `trials:` sections silently."""
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise LongtailError(f"{key!r} is given twice (line {key_node.start_mark.line + 1}): keep one")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_Yaml12Loader.construct_mapping = _mapping

def keys(name: str) -> list[str]:
    """Every key of section `name`, in the order of its dataclasses' fields."""
    return [f.name for cls in SECTIONS[name] for f in dataclasses.fields(cls)]


def load_yaml(text: str):
    """YAML as DVC reads and writes it (YAML 1.2 booleans and floats), duplicate keys refused."""
    return yaml.load(text, Loader=_Yaml12Loader)


def read(path="params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"params file {path} not found: run from the repository root or pass --params")
    try:
        params = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise LongtailError(f"{path} is not valid YAML: {e}") from None
    except LongtailError as e:
        raise LongtailError(f"{path}: {e}") from None
    if not isinstance(params, dict):
        raise LongtailError(f"{path} must be a mapping of sections, found {type(params).__name__}")
    for key in params:
        if key not in TOP_LEVEL:
            near = difflib.get_close_matches(str(key), TOP_LEVEL, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known sections: {', '.join(TOP_LEVEL)}"
            raise LongtailError(f"{path}: unknown section {key!r}{hint}")
    return params


def _typed(key: str, value, kind: type):
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise LongtailError(f"{key} = {value!r} must be of type {kind.__name__}")
    if kind is float and not math.isfinite(value):
        raise LongtailError(f"{key} = {value!r} must be a finite number")
    return value


def _value(key: str, value, field: dataclasses.Field):
    """A param's value checked against its field's type; a field marked "list" also takes a list,
    one marked "optional" also null (None)."""
    kind = field.metadata.get("kind", field.type)
    if field.metadata.get("optional") and value is None:
        return None
    if field.metadata.get("list") and isinstance(value, list):
        return tuple(_typed(f"{key}[{i}]", v, kind) for i, v in enumerate(value))
    return _typed(key, value, kind)


def section(params: dict, name: str, cls):
    """The dataclass `cls` (section `name`, or a view of it), built from params[name] and checked.
    The whole section is checked for keys it does not know and for keys it lacks."""
    if name not in SECTIONS:
        raise LongtailError(f"unknown params section {name!r}; known sections: {', '.join(SECTIONS)}")
    raw = params.get(name)
    if not isinstance(raw, dict):
        raise LongtailError(f"params section {name!r} is missing or not a mapping")
    known = keys(name)
    for key in raw:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f"; known keys: {', '.join(known)}"
            raise LongtailError(f"unknown param {name}.{key}{hint}")
    if missing := [key for key in known if key not in raw]:
        raise LongtailError(f"params section {name!r} lacks {', '.join(missing)}: every knob is set in params.yaml "
                            "(see the repository's params.yaml for each one's meaning and value)")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if extra := set(fields) - set(known):
        raise LongtailError(f"{cls.__name__} reads {', '.join(sorted(extra))}, which section {name!r} has not")
    result = cls(**{k: _value(f"{name}.{k}", raw[k], f) for k, f in fields.items()})
    result.check(name)
    return result


def _top(params: dict, key: str, kind: type):
    if key not in params:
        raise LongtailError(f"params lack `{key}`: set it at the top of params.yaml (see the repository's)")
    return _typed(key, params[key], kind)


def seed(params: dict) -> int:
    value = _top(params, "seed", int)
    check_range("seed", value, 0)  # numpy's generators take non-negative seeds only
    return value


def device(params: dict) -> str:
    value = _top(params, "device", str)
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?|mps", value):
        raise LongtailError(f"unknown device {value!r}; use auto, cpu, cuda, cuda:N or mps")
    return value


def check_all(params: dict) -> None:
    """Every section as the stages read it, the top-level keys and the cross-section rule: what
    stages/check.py runs before any stage of the pipeline, so that a misspelt name or a bad value
    stops the run before DVC removes a single output."""
    seed(params)
    device(params)
    for name, classes in SECTIONS.items():
        for cls in classes:
            section(params, name, cls)
    check_statistic(params)
