"""compare: the experiments of `dvc exp show` side by side: each group's two answers (Q1, beyond the
estimator's noise; Q2, at equal difficulty) with the paper's Student t beside them (its Figure 4),
and the CIE and PIE counts (Figure 6), one colour or bar group per compression loss or method, with
Benjamini-Hochberg adjusted p-values across all experiments and groups (compare.md).

Not a pipeline stage: it reads the experiments, which `dvc exp run` makes. Run it after them:
`python stages/compare.py` (or `make compare`)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import typer

from longtail import LongtailError, cli, params
from longtail.analysis import experiments
from longtail.report import markdown, plots
from longtail.artifacts import outputs

app = cli.app(__doc__)


def exp_show() -> list:
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], capture_output=True, text=True)
    if result.returncode != 0:
        raise LongtailError(f"`dvc exp show --json` failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    from_json: Path = typer.Option(None, "--from-json", help="read this saved `dvc exp show --json` output instead"),
    plots_dir: Path = Path("plots"),
    out: Path = Path("compare.md"),
):
    with cli.errors():
        alpha = params.section(params.read(params_file), "ttest", params.Ttest).alpha
        if from_json is not None and not from_json.exists():
            raise LongtailError(f"--from-json {from_json} not found")
        records = experiments.adjust(experiments.experiments(json.loads(from_json.read_text()) if from_json else exp_show()))
        names = experiments.labels(records)
        stars = {n: {g: (r["tests"][g]["p_bh"] or 1) <= alpha for g in experiments.GROUPS} for n, r in zip(names, records)}
        counts = {n: r["counts"] for n, r in zip(names, records)}
        rows = [[n, r["name"], g, r["tests"][g]["n"], markdown.number(r["tests"][g]["t"], ".2f"), markdown.number(r["tests"][g]["p"]),
                 markdown.number(r["tests"][g]["p_bh"]) + ("*" if stars[n][g] else "")]
                for n, r in zip(names, records) for g in experiments.GROUPS]

        def answer(q: dict) -> list:  # a question's cells: difference [95%], p, BH-adjusted p
            return [markdown.number(q.get("diff"), "+.3g") + ("" if q.get("diff") is None else
                    f" [{q['diff_low']:+.3g}, {q['diff_high']:+.3g}]"), markdown.number(q.get("p")),
                    markdown.number(q.get("p_bh")) + ("*" if (q.get("p_bh") or 1) <= alpha else "")]

        question_rows = [[n, r["name"], g, r["tests"][g]["n"], *answer(r["tests"][g]["excess"]),
                          *answer(r["tests"][g]["matched"])]
                         for n, r in zip(names, records) for g in experiments.GROUPS]
        statistics = {(r["statistic"], r["reliability"]) for r in records}
        text = "\n\n".join([
            "# Experiments compared", "Written by `python stages/compare.py` from `dvc exp show --json`.",
            "Tested: " + "; ".join(f"`{s}` (split-half reliability {markdown.number(rel, '.3f')})" for s, rel in
                                   sorted(statistics, key=str)) + ".",
            "## Two questions",
            "Per experiment, the CIEs: Q1, are they more influenced than agreeing examples beyond the estimator's "
            "noise (each example's excess over its influence-free null; `excess` in metrics/ttest.json)? Q2, at "
            "equal difficulty (`matched`)?",
            *(f"- {n}: " + markdown.answers("cie", r["tests"]["cie"], alpha) for n, r in zip(names, records)),
            markdown.table(["group", "experiment", "set", "n", "Q1: excess [95%]", "p", "p (BH)",
                          "Q2: at equal difficulty [95%]", "p", "p (BH)"], question_rows),
            f"\\* Benjamini-Hochberg adjusted p ≤ α = {alpha}, across all {len(rows)} tests of each question.",
            "## The paper's test (Student's t on the raw statistic; confounded by the estimator's noise)",
            markdown.table(["group", "experiment", "set", "n", "Student t", "p", "p (BH)"], rows),
            f"\\* Benjamini-Hochberg adjusted p ≤ α = {alpha}, across all {len(rows)} tests above.",
            *(f"![{name}]({Path(os.path.relpath(plots_dir / name, out.parent)).as_posix()})"
              for name in ("compare_ttest.png", "compare_counts.png"))]) + "\n"
        with outputs() as o:
            plots.save(plots.questions_figure({n: r["tests"] for n, r in zip(names, records)},
                                              statistic=", ".join(sorted({str(r["statistic"]) for r in records})),
                                              alpha=alpha),
                       o.path(plots_dir / "compare_ttest.png"))
            plots.save(plots.grouped_bars(counts, ylabel="test examples", title="CIE and PIE counts per experiment"),
                       o.path(plots_dir / "compare_counts.png"))
            with open(o.path(out), "w") as f:
                f.write(text)
        cli.say(f"{len(records)} experiments compared: {out}, {plots_dir}/compare_ttest.png, compare_counts.png")


if __name__ == "__main__":
    app()
