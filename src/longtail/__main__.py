"""longtail: the user commands beside the pipeline's stages (`longtail COMMAND --help`). Each runs in
the project's root, the nearest folder at or above the current one that holds dvc.yaml, so it works
from any folder of the project.

Your data and your network (README and docs/datasets.md, "Your data and your network"): `dvc exp run -S data.dataset=NAME`
reads the folder data/raw/NAME/, images as train/<class>/*.png and test/<class>/... (torchvision's
ImageFolder; without test/ it is split by data.test_fraction) or arrays as train.npz and test.npz
(or one data.npz) holding x and y; `-S trials.arch=models/FILE.py:FUNCTION` (reference.arch,
consistency.arch too) builds FUNCTION(in_shape, num_classes), a torch.nn.Module giving logits. First
run it small with planted flips (`-S data.flip_labels=0.05`): memorization must find them."""

import os
from importlib import metadata
from pathlib import Path

import typer

from longtail import cli
from longtail.commands import compare, deps, dispatch, preset, verify

COMMANDS = {  # name: (its module, what it does)
    "preset": (preset, "run a preset of presets/ as a DVC experiment (make preset P=cifar10)"),
    "compare": (compare, "the experiments of `dvc exp show` side by side: compare.md (make compare)"),
    "dispatch": (dispatch, "a trials stage's shards on Ray; `dvc repro` then gathers them"),
    "deps": (deps, "dvc.yaml's source deps and params from the code; --check compares (make deps)"),
    "verify": (verify, "a fresh run's metrics against the committed ones (make verify)"),
}

app = cli.app("\n\n".join(" ".join(p.split()) for p in __doc__.split("\n\n")))  # paragraphs, reflowed
for name, (command, summary) in COMMANDS.items():
    app.command(name, help=command.__doc__, short_help=summary)(command.main)


def _version(asked: bool) -> None:
    if asked:
        typer.echo(f"longtail {metadata.version('longtail')}")  # pyproject.toml's, as installed
        raise typer.Exit()


@app.callback()
def project(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                         help="print longtail's version (pyproject.toml's) and exit")):
    here = Path.cwd()
    os.chdir(next((folder for folder in (here, *here.parents) if (folder / "dvc.yaml").is_file()), here))


if __name__ == "__main__":
    app()
