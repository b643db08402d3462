"""compare.md: the experiments of a sweep side by side (`longtail compare`), each group's two
answers (Q1, Q2) with the paper's Student t, Benjamini-Hochberg adjusted across all experiments,
and the harm-efficiency front of their operating points."""

from longtail.analysis import front, stats
from longtail.analysis.cie import GROUPS
from longtail.report import markdown


def document(records: list[dict], names: list[str], points: list[dict], alpha: float, figures: dict[str, str]) -> str:
    """compare.md from the adjusted records of analysis.experiments (one per experiment, named
    `names`) and their operating points marked by analysis.front.mark, at level `alpha`; figures:
    file name -> its link from compare.md."""
    stars = {n: {g: (r["tests"][g]["p_bh"] or 1) <= alpha for g in GROUPS} for n, r in zip(names, records)}
    rows = [[n, r["name"], g, r["tests"][g]["n"], markdown.number(r["tests"][g]["t"], ".2f"),
             markdown.number(r["tests"][g]["p"]), markdown.number(r["tests"][g]["p_bh"]) + ("*" if stars[n][g] else "")]
            for n, r in zip(names, records) for g in GROUPS]

    def answer(q: dict) -> list:  # a question's cells: difference [95%], p, BH-adjusted p
        return [markdown.interval(q.get("diff"), q.get("diff_low"), q.get("diff_high"), "+.3g"),
                markdown.number(q.get("p")),
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
        f"\\* Benjamini-Hochberg adjusted p ≤ α = {alpha}, across all {2 * len(rows)} tests of the two questions "
        "(experiments × groups × questions): compared across experiments, even each run's confirmatory test (Q1 for "
        "the CIEs) is one of many, and every sentence above follows its adjusted p.",
        "## The paper's test (Student's t on the raw statistic; confounded by the estimator's noise)",
        markdown.table(["group", "experiment", "set", "n", "Student t", "p", "p (BH)"], rows),
        f"\\* Benjamini-Hochberg adjusted p ≤ α = {alpha}, across all {len(rows)} tests above.",
        *_front(points, {r["name"]: r["tests"] for r in records}),
        *(f"![{name}]({link})" for name, link in figures.items())]) + "\n"


def _front(points: list[dict], tests: dict[str, dict]) -> list[str]:
    """The harm-efficiency table: every operating point, its cost ratios and harms, each harm marked
    where the point is non-dominated against the FLOPs ratio (†), the nonzero parameters ratio (§)
    or the size ratio (‡), and for the
    level ttest tested, Q1's adjusted p for the CIEs and the most shifted (tests: experiment name ->
    its groups' answers)."""
    def q1(p, group):
        return markdown.number(tests[p["experiment"]][group]["excess"].get("p_bh")) if p["tested"] else "—"

    def cell(p, harm, spec):
        marks = "".join(m for cost, m in zip(front.COSTS, "†§‡") if harm in p["front"][cost])
        return markdown.number(p[harm], spec) + marks

    floor_bh = stats.benjamini_hochberg([p.get("cev_p") for p in points])  # across the points compared

    def floor(p, adjusted):
        if p.get("cev_p") is None:
            return "—"
        return (f"{markdown.number(p['cev_plugin'], '.3g')} against {markdown.number(p['cev_null'], '.3g')}, "
                f"p = {markdown.number(p['cev_p'])} ({markdown.number(adjusted)})")

    rows = [[p["label"], p["level"], *(markdown.number(p[cost], ".3f") for cost in front.COSTS),
             cell(p, "accuracy", ".4f"), cell(p, "cie", "d"), markdown.number(p["pie"], "d"),
             cell(p, "shift_mass", ".1f"),
             cell(p, "cev", ".3g") + ("" if p["cev"] is None else f" [{markdown.number(p['cev_low'], '.3g')}, "
                                                                 f"{markdown.number(p['cev_high'], '.3g')}]"),
             floor(p, adjusted), markdown.number(p["sde"], ".3g"), q1(p, "cie"), q1(p, "shifted")]
            for p, adjusted in zip(points, floor_bh)]
    return ["## Harm against efficiency",
            "Every compressed level of every experiment: its cost against its reference (the ratios of FLOPs, of "
            "nonzero parameters and of size; unstructured pruning saves only nonzero parameters), "
            "the population's accuracy, the single model's CIEs, the populations' PIEs and shift mass (votes moved, "
            "in test examples), CEV (bias-corrected, with its jackknife interval over the member pairs; its plug-in against "
            "its noise floor, the plug-in with each pair's members exchanged, p of the plug-in against it and, in "
            "brackets, that p adjusted across the levels compared) and SDE (Blakeney et al.). "
            "A level is non-dominated when no other is as cheap and as harmless and better in one. Q1 (are they more "
            "influenced, beyond the estimator's noise?) is answered for the level that goes on to ttest.",
            markdown.table(["group", "level", "FLOPs ratio", "nonzero parameters ratio", "size ratio", "accuracy", "CIEs", "PIEs", "shift mass",
                            "CEV [95%]", "CEV plug-in against its noise floor, p (BH)", "SDE", "Q1 CIEs p (BH)", "Q1 most shifted p (BH)"], rows),
            "† non-dominated against the FLOPs ratio; § against the nonzero parameters ratio; ‡ against the size "
            "ratio (the rows of panels of compare_front.png)."]
