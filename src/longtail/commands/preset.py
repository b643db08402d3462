"""preset: run a preset of presets/ (the paper's settings) as a DVC experiment: `dvc exp run` with
a `-S section.key=value` for each of its keys, after checking the merged params whole. params.yaml
stays as it is, and `dvc exp show` lists exactly the keys the preset changes.

    longtail preset cifar10            # (or: make preset P=cifar10)
    longtail preset cifar10 --print    # only print the arguments of `dvc exp run`"""

import json
import subprocess
import sys
from pathlib import Path

import typer

from longtail import LongtailError, cli, params
from longtail.commands import ROOT

PRESETS = ROOT / "presets"


def overrides(preset: dict) -> list[str]:
    """`section.key=value` for every key of the preset, the value in YAML flow style (no spaces, so
    the shell keeps each argument whole)."""
    return [f"{section}.{key}={value if isinstance(value, str) else json.dumps(value, separators=(',', ':'))}"
            for section, values in preset.items() for key, value in values.items()]


def main(name: str = typer.Argument(..., help="a preset: the name of a file in presets/"),
         params_file: Path = cli.PARAMS,
         presets: Path = typer.Option(PRESETS, help="the folder of presets"),
         only_print: bool = typer.Option(False, "--print", help="print the arguments of `dvc exp run`, run nothing")):
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
        args = [word for arg in overrides(preset) for word in ("-S", arg)]
        if only_print:
            print(" ".join(args))
            return
        cli.say(f"dvc exp run {' '.join(args)}")
        raise typer.Exit(subprocess.run([sys.executable, "-m", "dvc", "exp", "run", *args]).returncode)

