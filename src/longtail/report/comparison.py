"""compare.md: the experiments of a sweep side by side (`longtail compare`), each group's two
answers (Q1, Q2) with the paper's Student t, Benjamini-Hochberg adjusted across all experiments."""

from longtail.analysis.cie import GROUPS
from longtail.report import markdown


def document(records: list[dict], names: list[str], alpha: float, figures: dict[str, str]) -> str:
    """compare.md from the adjusted records of analysis.experiments (one per experiment, named
    `names`) at level `alpha`; figures: file name -> its link from compare.md."""
    stars = {n: {g: (r["tests"][g]["p_bh"] or 1) <= alpha for g in GROUPS} for n, r in zip(names, records)}
    rows = [[n, r["name"], g, r["tests"][g]["n"], markdown.number(r["tests"][g]["t"], ".2f"),
             markdown.number(r["tests"][g]["p"]), markdown.number(r["tests"][g]["p_bh"]) + ("*" if stars[n][g] else "")]
            for n, r in zip(names, records) for g in GROUPS]

    def answer(q: dict) -> list:  # a question's cells: difference [95%], p, BH-adjusted p
        return [markdown.number(q.get("diff"), "+.3g") + ("" if q.get("diff") is None else
                f" [{q['diff_low']:+.3g}, {q['diff_high']:+.3g}]"), markdown.number(q.get("p")),
                markdown.number(q.get("p_bh")) + ("*" if (q.get("p_bh") or 1) <= alpha else "")]

    question_rows = [[n, r["name"], g, r["tests"][g]["n"], *answer(r["tests"][g]["excess"]),
                      *answer(r["tests"][g]["matched"])]
                     for n, r in zip(names, records) for g in GROUPS]
    statistics = {(r["statistic"], r["reliability"]) for r in records}
    return "\n\n".join([
        "# Experiments compared", "Written by `longtail compare` from `dvc exp show --json`.",
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
        *(f"![{name}]({link})" for name, link in figures.items())]) + "\n"
