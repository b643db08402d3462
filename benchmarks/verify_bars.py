"""Does `longtail verify` keep its promise? Its error bars (longtail/report/verify.py) are for another
machine's rerun of the same trials and seed: another summation order, other last bits, SGD
amplifying them. This benchmark makes such reruns on one machine and counts, per kind of bar, how
often a number falls outside its bar (want about 5%, at most 10%).

1. A copy of the repository (its working tree: tracked and untracked files git does not ignore,
   with data/raw/<dataset>/) in a temporary folder, params.yaml changed by --set.
2. The baseline: `dvc repro -f` there once as it is (--baseline repro), or the metrics already in
   the copied workspace (--baseline workspace: those the lead regenerated on this machine).
3. Each variant, --runs times, `dvc repro -f` with the same seed and another summation order:
   threads1 (OMP_NUM_THREADS=1 and the BLAS libraries' counts: torch's intra-op threads and NumPy's
   BLAS split their sums by thread; no stage sets a thread count itself), threads3, compile-off
   (trials.compile=off: the trials' steps run eager, not fused by torch.compile), or both. Each
   rerun's metrics against the baseline with verify.compare.
4. A markdown table, printed and written to --out: per kind of bar (verify.RULES' names) the
   numbers, how many were identical, within and outside, the share outside of all and of those that
   moved; then every number outside its bar.

    python benchmarks/verify_bars.py --out verify_bars.md                        # the default pipeline
    python benchmarks/verify_bars.py --baseline workspace --runs 1 --variants threads1
    python benchmarks/verify_bars.py --set trials.count=8 --set trials.epochs=2 --targets estimate

Repeats of one variant on one machine are usually byte-identical (--runs > 1 measures what is not
deterministic there: GPU atomics, thread scheduling of reductions)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import typer
import yaml

from longtail.artifacts import load_json
from longtail.commands.verify import METRICS
from longtail.params import knobs, load_yaml
from longtail.report import verify

ROOT = Path(__file__).resolve().parents[1]
THREADS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS")
# name: (environment, params.yaml changes) of a rerun as another machine would make it
VARIANTS = {"threads1": (dict.fromkeys(THREADS, "1"), {}),
            "threads3": (dict.fromkeys(THREADS, "3"), {}),
            "compile-off": ({}, {"trials.compile": "off"}),
            "compile-off-threads1": (dict.fromkeys(THREADS, "1"), {"trials.compile": "off"})}
JUDGED = ("identical", "within", "outside")


def copy_of(source: Path, into: Path) -> Path:
    """A git repository in `into` with the working tree of `source` (no DVC cache, no outputs)."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=source,
                            capture_output=True, text=True, check=True).stdout.splitlines()
    for name in listed:
        if (source / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, into / name)
    subprocess.run(["git", "init", "-q"], cwd=into, check=True)
    return into


def with_settings(params: dict, settings: dict[str, object]) -> dict:
    """params.yaml's tree with each "section.key" of `settings` set."""
    out = yaml.safe_load(yaml.safe_dump(params))
    for dotted, value in settings.items():
        *sections, key = dotted.split(".")
        node = out
        for section in sections:
            node = node[section]
        if key not in node:
            raise SystemExit(f"--set {dotted}: params.yaml has no such key (see its comments for the knobs)")
        node[key] = value
    return out


def parsed_settings(pairs: list[str]) -> dict[str, object]:
    """{"section.key": value} of --set section.key=value (values read as DVC's YAML 1.2 reads them:
    8, 0.5, null; off stays the string off)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set {pair}: expected section.key=value, e.g. --set trials.count=8")
        dotted, value = pair.split("=", 1)
        out[dotted] = load_yaml(value)
    return out


def copy_raw_data(source: Path, copy: Path, dataset: str) -> None:
    """The dataset's own files (git ignores them; prepare reads them): data/raw/<dataset>/."""
    raw = source / "data" / "raw" / dataset
    if raw.is_dir():
        shutil.copytree(raw, copy / "data" / "raw" / dataset, dirs_exist_ok=True)


def metrics_of(folder: Path) -> dict[str, dict]:
    return {p.relative_to(folder).as_posix(): load_json(p) for pattern in METRICS for p in sorted(folder.glob(pattern))}


def remove_metrics(folder: Path) -> None:
    """So that a rerun of some stages (--targets) is compared only on the metrics it made."""
    for pattern in METRICS:
        for path in folder.glob(pattern):
            path.unlink()


def repro(copy: Path, targets: list[str], env: dict[str, str]) -> float:
    """`dvc repro -f` of `targets` (all stages: none) in the copy; its seconds."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "dvc", "repro", "-f", *targets], cwd=copy, env=env,
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"dvc repro failed in {copy}: {(result.stderr or result.stdout).strip()[-2000:]}")
    return time.perf_counter() - start


def environment(copy: Path, changes: dict[str, str]) -> dict[str, str]:
    """This Python's environment for the stages (they import the copy's library), with `changes`."""
    return os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                         "PYTHONPATH": str(copy / "src"), "DVC_NO_ANALYTICS": "1"} | changes


def tally(rows: list[verify.Row]) -> dict[str, Counter]:
    """Per kind of bar, the count of each verdict: the numbers no rule covers under "no error bar"
    where they moved, "no rule" where they did not, missing and new ones under "-"."""
    out = {}
    for row in rows:
        kind = "no error bar" if row.verdict == "no error bar" else row.rule or (
            "no rule" if row.verdict == "identical" else "-")
        out.setdefault(kind, Counter())[row.verdict] += 1
    return out


def share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def report(results: list[tuple[str, list[verify.Row], float]], baseline: str) -> str:
    """The markdown: per kind of bar its verdicts over every rerun, then each number outside."""
    counts = {}
    for _, rows, _ in results:
        for kind, found in tally(rows).items():
            counts.setdefault(kind, Counter()).update(found)
    lines = [f"# verify's error bars against {len(results)} rerun(s) of the same seed (baseline: {baseline})", "",
             "Reruns: " + ", ".join(f"{label} ({seconds:.0f} s)" for label, _, seconds in results) + ".", "",
             "| bar | numbers | identical | within | outside | outside / numbers | outside / moved |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    judged = {k: c for k, c in counts.items() if k not in ("no error bar", "-")}
    for kind, c in sorted(judged.items(), key=lambda kc: -sum(kc[1][v] for v in JUDGED)):
        total, moved = sum(c[v] for v in JUDGED), c["within"] + c["outside"]
        lines.append(f"| {kind} | {total} | {c['identical']} | {c['within']} | {c['outside']} | "
                     f"{share(c['outside'], total)} | {share(c['outside'], moved)} |")
    every = sum(judged.values(), Counter())
    total, moved = sum(every[v] for v in JUDGED), every["within"] + every["outside"]
    lines.append(f"| **all** | {total} | {every['identical']} | {every['within']} | {every['outside']} | "
                 f"{share(every['outside'], total)} | {share(every['outside'], moved)} |")
    unjudged = counts.get("-", Counter())
    lines += ["", f"No error bar: {counts.get('no error bar', Counter())['no error bar']}; missing: "
              f"{unjudged['missing']}; new: {unjudged['new']} (numbers, over all reruns).", ""]
    outside = [(label, r) for label, rows, _ in results for r in rows if r.verdict in ("outside", "missing")]
    if outside:
        lines += ["| rerun | file | number | baseline | rerun | error bar | bar |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        lines += [f"| {label} | {r.file} | {r.key} | {r.committed} | {r.fresh} | "
                  f"{'' if r.bar is None else format(r.bar, '.3g')}{' (z)' if r.scale == 'z' else ''} | {r.rule} |"
                  for label, r in outside]
    return "\n".join(lines) + "\n"


def main(runs: int = typer.Option(1, help="reruns of each variant"),
         variants: list[str] = typer.Option(["threads1", "compile-off"], help=f"of {', '.join(VARIANTS)}"),
         baseline: str = typer.Option("repro", help="repro: `dvc repro -f` once in the copy; workspace: the "
                                                    "copied workspace's metrics (made on this machine)"),
         set_: list[str] = typer.Option([], "--set", help="section.key=value in the copy's params.yaml"),
         targets: list[str] = typer.Option([], "--targets", help="DVC stages to reproduce (and what they need); "
                                                                  "none: all"),
         source: Path = typer.Option(ROOT, help="the repository whose working tree is copied"),
         keep: Path = typer.Option(None, help="make the copy in this (empty) folder and keep it"),
         out: Path = typer.Option(None, help="write the markdown table here too")):
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    if baseline not in ("repro", "workspace"):
        raise SystemExit(f"--baseline {baseline}: choose repro or workspace")
    settings = parsed_settings(set_)
    if baseline == "workspace" and settings:
        raise SystemExit("--baseline workspace compares with metrics made with the workspace's params: drop --set, "
                         "or use --baseline repro")
    folder = keep or Path(tempfile.mkdtemp(prefix="verify_bars-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        copy = copy_of(source.resolve(), folder)
        params = with_settings(load_yaml((copy / "params.yaml").read_text()), settings)
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        copy_raw_data(source.resolve(), copy, params["data"]["dataset"])
        if baseline == "workspace":
            committed = metrics_of(copy)
            if not committed:
                raise SystemExit(f"no metrics files in {source}: run `dvc repro` there, or use --baseline repro")
        else:
            remove_metrics(copy)
            seconds = repro(copy, targets, environment(copy, {}))
            committed = metrics_of(copy)
            print(f"baseline: {seconds:.0f} s, {len(committed)} metrics files", flush=True)
        results = []
        for variant in variants:
            env_changes, param_changes = VARIANTS[variant]
            (copy / "params.yaml").write_text(yaml.safe_dump(with_settings(params, param_changes), sort_keys=False))
            for run in range(runs):
                remove_metrics(copy)
                seconds = repro(copy, targets, environment(copy, env_changes))
                fresh = metrics_of(copy)
                rows = verify.compare({f: d for f, d in committed.items() if f in fresh or not targets}, fresh, knobs())
                label = variant if runs == 1 else f"{variant} #{run + 1}"
                results.append((label, rows, seconds))
                said = ", ".join(f"{n} {v}" for v, n in Counter(r.verdict for r in rows).items())
                print(f"{label}: {seconds:.0f} s, {said}", flush=True)
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    table = report(results, baseline)
    print(table)
    if out:
        out.write_text(table)


if __name__ == "__main__":
    typer.run(main)
