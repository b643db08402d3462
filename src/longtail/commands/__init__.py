"""The user commands that are not stages of dvc.yaml, each a subcommand of the `longtail` console
script (longtail/__main__.py): preset, compare, dispatch, deps, verify. Like the stages, they sit on
top: they read params and files and call the library."""

from pathlib import Path

# The repository this package runs from (make install installs it editable): its stages/ and presets/.
ROOT = Path(__file__).resolve().parents[3]
