"""preset: the `-S key=value` arguments of `dvc exp run` that select a preset of presets/ (the paper's
settings), checked against every params section first. `make preset P=cifar10` runs:

    dvc exp run $(python stages/preset.py cifar10)

so params.yaml stays as it is and `dvc exp show` lists exactly the keys the preset changes."""

import json
from pathlib import Path

import typer

from longtail import LongtailError, cli, params

app = cli.app(__doc__)

PRESETS = Path(__file__).resolve().parents[1] / "presets"


def overrides(preset: dict) -> list[str]:
    """`section.key=value` for every key of the preset, the value in YAML flow style (no spaces, so
    the shell keeps each argument whole)."""
    return [f"{section}.{key}={value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))}"
            for section, values in preset.items() for key, value in values.items()]


@app.command()
def main(name: str = typer.Argument(..., help="a preset: the name of a file in presets/"),
         params_file: Path = cli.PARAMS,
         presets: Path = typer.Option(PRESETS, help="the folder of presets")):
    with cli.errors():
        available = sorted(p.stem for p in presets.glob("*.yaml"))
        if name not in available:
            raise LongtailError(f"unknown preset {name!r}; choose one of: {', '.join(available)}")
        preset = params.load_yaml((presets / f"{name}.yaml").read_text()) or {}
        merged = params.read(params_file)
        for section, values in preset.items():
            if section not in params.SECTIONS or not isinstance(values, dict):
                raise LongtailError(f"presets/{name}.yaml: {section!r} is not a params section of: "
                                    f"{', '.join(params.SECTIONS)}")
            merged[section] = merged.get(section, {}) | values
        params.check_all(merged)  # the whole run's params must be valid before it starts
        print(" ".join(f"-S {arg}" for arg in overrides(preset)))


if __name__ == "__main__":
    app()
