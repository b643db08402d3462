"""longtail: the user commands beside the pipeline's stages (`longtail COMMAND --help`). Each runs in
the project's root, the nearest folder at or above the current one that holds dvc.yaml, so it works
from any folder of the project."""

import os
from pathlib import Path

from longtail import cli
from longtail.commands import compare, deps, dispatch, preset, verify

COMMANDS = {  # name: (its module, what it does)
    "preset": (preset, "run a preset of presets/ as a DVC experiment (make preset P=cifar10)"),
    "compare": (compare, "the experiments of `dvc exp show` side by side: compare.md (make compare)"),
    "dispatch": (dispatch, "a trials stage's shards on Ray; `dvc repro` then gathers them"),
    "deps": (deps, "dvc.yaml's source deps and params from the code; --check compares (make deps)"),
    "verify": (verify, "a fresh run's metrics against the committed ones (make verify)"),
}

app = cli.app(__doc__)
for name, (command, summary) in COMMANDS.items():
    app.command(name, help=command.__doc__, short_help=summary)(command.main)


@app.callback()
def project():
    here = Path.cwd()
    os.chdir(next((folder for folder in (here, *here.parents) if (folder / "dvc.yaml").is_file()), here))


if __name__ == "__main__":
    app()
