"""verify: the metrics of the run in the workspace against those committed (make verify): each
number identical, within its error bar, or outside it (longtail.report.verify decides)."""

import json
import subprocess
from pathlib import Path

import typer

from longtail import LongtailError, cli, environment, layout, params
from longtail.artifacts import load_json
from longtail.report import verify as verifying

METRICS = ("metrics/*.json", "dvclive/*/metrics.json")  # every metrics file dvc.yaml declares
# Beside them, the run's machine and software: printed, not judged (every value of it is a setting).
ENVIRONMENT = layout.ENVIRONMENT


def _committed(rev: str) -> dict[str, dict]:
    listed = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "--", "metrics", "dvclive"],
                            capture_output=True, text=True)
    if listed.returncode != 0:
        raise LongtailError(f"cannot read revision {rev!r} of this repository: {listed.stderr.strip()}")
    out = {}
    for path in (p for p in listed.stdout.split() if any(Path(p).match(pattern) for pattern in METRICS)
                 or p == ENVIRONMENT):
        shown = subprocess.run(["git", "show", f"{rev}:{path}"], capture_output=True, text=True)
        try:
            out[path] = json.loads(shown.stdout)
        except json.JSONDecodeError as e:
            raise LongtailError(f"{path} at {rev} is not valid JSON ({e}): compare with another revision "
                                "(--rev)") from None
    return out


def _fresh() -> dict[str, dict]:
    found = {path.as_posix() for pattern in METRICS for path in Path().glob(pattern)} | {ENVIRONMENT}
    return {path: load_json(Path(path)) for path in sorted(found) if Path(path).exists()}


def _environments(rev: str, committed: dict | None, fresh: dict | None) -> None:
    """Both runs' machines and software, and what differs, before any number is judged."""
    cli.say(f"committed ({rev}): {environment.line(committed)}")
    cli.say(f"this workspace: {environment.line(fresh)}")
    differ = environment.differences(committed, fresh)
    if committed and fresh and not differ:
        cli.say("the same environment: every number should be identical")
    elif committed and fresh:
        cli.say(f"the environments differ ({', '.join(differ)}): expect numbers within their error bars, "
                "not identical ones")


def _number(value) -> str:
    return cli.number(value, ".6g") if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def main(rev: str = typer.Option("HEAD", help="the committed run to compare with"),
           all_rows: bool = typer.Option(False, "--all", help="list the identical numbers too")):
    """Compare the metrics of the run in the workspace with those committed at REV: each number is
    identical, within its error bar (two runs of the same recipe differ by this much 95% of the
    time), or outside it. Exit 1 only where a number is outside its error bar or missing."""
    with cli.errors():
        committed, fresh = _committed(rev), _fresh()
        _environments(rev, committed.pop(ENVIRONMENT, None), fresh.pop(ENVIRONMENT, None))
        rows = verifying.compare(committed, fresh, params.knobs())
        if not rows:
            raise LongtailError(f"no metrics files in the workspace or at {rev}: run `dvc repro` first")
        for row in rows:
            if all_rows or row.verdict != "identical":
                bar = "" if row.bar is None else f" (error bar ±{row.bar:.3g}{' on the z scale' if row.scale == 'z' else ''})"
                cli.say(f"{row.verdict:>12}  {row.file} {row.key}: {_number(row.committed)} -> "
                        f"{_number(row.fresh)}{bar}")
        counts = {v: sum(r.verdict == v for r in rows) for v in
                  ("identical", "within", "no error bar", "outside", "missing", "new")}
        cli.say(f"{len(rows)} numbers against {rev}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n))
        if counts["outside"] or counts["missing"]:
            raise typer.Exit(1)
