"""consistency: Feldman & Zhang's (2020) consistency check across architectures. Compares the
estimates of the main trials (trials.arch) with those of a second architecture's independent trials
(consistency.arch; train_trials --arch --count --stream, then estimate, into data/consistency/) at
the estimate thresholds: Jaccard similarity of the high-memorization sets and of the high-influence
pairs, and D_mem, the mean |mem_a - mem_b| over the union of the high-memorization sets."""

from pathlib import Path

from longtail import LongtailError, cli, layout, params
from longtail.estimate import consistency
from longtail.artifacts import load_csv, load_json, load_npy, outputs

app = cli.app(__doc__)

@app.command()
def main(
    params_file: Path = cli.PARAMS,
    influence_a: Path = Path(layout.INFLUENCE),
    influence_b: Path = Path(layout.CONSISTENCY_INFLUENCE),
    trials_a: Path = Path(layout.TRIALS),
    trials_b: Path = Path(layout.CONSISTENCY_TRIALS),
    metrics: Path = Path(layout.metrics("consistency")),
):
    """influence-a, influence-b: estimate output folders of the main trials and of the second
    architecture's (memorization.npy and high_influence_pairs.csv in each); trials-a, trials-b: their
    trials' folders, whose until.json says how many trials each kept (trials.until may stop either
    before its count)."""
    with cli.errors():
        p = params.read(params_file)
        cfg = params.section(p, "consistency", params.Consistency)
        trials_cfg = params.section(p, "trials", params.TrialSet)
        threshold = params.section(p, "estimate", params.Estimate).pair_memorization  # the estimates' threshold
        mem_a = load_npy(influence_a / "memorization.npy", ndim=1)
        mem_b = load_npy(influence_b / "memorization.npy", ndim=1)
        pairs_a = load_csv(influence_a / "high_influence_pairs.csv", ["train_index", "test_index"], int)
        pairs_b = load_csv(influence_b / "high_influence_pairs.csv", ["train_index", "test_index"], int)
        if len(mem_a) != len(mem_b):
            raise LongtailError(f"{influence_a} has {len(mem_a)} training examples and {influence_b} {len(mem_b)}: the "
                                "two sets of trials must be trained on the same data (rerun train_trials and estimate "
                                "for both)")
        result = consistency.compare(mem_a, mem_b, pairs_a, pairs_b, min_memorization=threshold)
        kept_a, kept_b = (load_json(folder / "until.json")["trials"] for folder in (trials_a, trials_b))
        with outputs() as out:
            out.json(metrics, {"arch_a": trials_cfg.arch, "arch_b": cfg.arch, "trials_a": kept_a,
                               "trials_b": kept_b, "n_train": len(mem_a), **result})
        cli.say(f"{trials_cfg.arch} ({kept_a} trials) vs {cfg.arch} ({kept_b}): high memorization "
                f"{result['high_memorization_a']} and {result['high_memorization_b']}, Jaccard "
                f"{result['jaccard_memorization']:.3f}, D_mem {result['d_mem']:.3f}; high-influence pairs "
                f"{result['high_influence_pairs_a']} and {result['high_influence_pairs_b']}, Jaccard "
                f"{result['jaccard_pairs']:.3f}")


if __name__ == "__main__":
    app()
