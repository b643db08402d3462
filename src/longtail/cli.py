"""What every stage script shares: the --params option, error messages, progress."""

import os
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from longtail import LongtailError

console = Console(stderr=True)

PARAMS = typer.Option(Path("params.yaml"), "--params", help="params file with the stage's sections")


def app(help: str) -> typer.Typer:
    return typer.Typer(add_completion=False, help=help, pretty_exceptions_enable=False)


@contextmanager
def errors() -> Iterator[None]:
    """A LongtailError becomes one line on stderr and exit status 2; anything else is a bug and
    keeps its traceback."""
    try:
        yield
    except LongtailError as e:
        _print("error: ", "bold red", str(e))
        sys.exit(2)


@contextmanager
def progress(total: int, what: str) -> Iterator:
    """A bar with done/total, rate, elapsed and time left; yields `advance(n=1)`."""
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
    )
    start = time.perf_counter()
    with Progress(*columns, console=console) as bar:
        task = bar.add_task(what, total=total, rate="")

        def advance(n: int = 1):
            done = bar.tasks[task].completed + n
            bar.update(task, advance=n, rate=f"{done / (time.perf_counter() - start):.2f}/s")

        yield advance
    elapsed = time.perf_counter() - start
    say(f"{what}: {total} in {elapsed:.1f} s ({total / max(elapsed, 1e-9):.2f}/s)")


def _print(prefix: str, style: str, message: str) -> None:
    """One message, printed literally: no rich markup read from it (a message may hold `[trials, n]`
    or a key named "[/x]") and no line breaks added."""
    console.print(Text(prefix, style=style) + Text(message), highlight=False, soft_wrap=True)


def number(value, spec=".3g") -> str:
    """A number in a message; None (undefined) as n/a."""
    return "n/a" if value is None else format(value, spec)


def say(message: str) -> None:
    _print("", "", message)


def warn(message: str) -> None:
    _print("warning: ", "yellow", message)


def outside_dvc(stage: str) -> None:
    """After a stage run by hand (DVC sets DVC_ROOT for the stages it runs): its outputs are not in
    dvc.lock, so `dvc repro` would run it again unless they are recorded."""
    if "DVC_ROOT" not in os.environ:
        warn(f"run outside DVC: `dvc commit {stage}` records these outputs in dvc.lock (else the next `dvc repro` "
             "runs the stage again)")


@contextmanager
def warnings_said(what: str | None = None) -> Iterator[None]:
    """Library warnings inside the block become yellow lines, each naming `what` it concerns where given."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        warn(f"{what}: {w.message}" if what else str(w.message))
