"""estimate: influence of every training example on every test example, and memorization, from the
trials (Feldman & Zhang 2020; definitions in docs/DESIGN.md), of the target estimate.target chooses
(0/1 correctness, or the probability or margin of each label that train_trials kept), with their
uncertainty: the standard error of each memorization estimate, the split-half reliability of
memorization and of the per-test statistics, the trials a target standard error needs, and how the
most memorized set settles as trials are added. Beside them, from the same masks: Data-OOB and the
MSR Banzhaf value of each training example, and the counterfactual check of the matrix (the LDS on
estimate.holdout of the trials). Where the prepared data has flipped labels (data.flip_labels), how
well memorization finds them."""

from pathlib import Path

import numpy as np

from longtail import LongtailError, cli, params
from longtail.estimate import estimates, influence
from longtail.artifacts import load_npy, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    params_file: Path = cli.PARAMS,
    prepared: Path = Path("data/prepared"),
    trials_dir: Path = Path("data/trials"),
    out_dir: Path = Path("data/influence"),
    metrics: Path = Path("metrics/estimate.json"),
    stability: Path = Path("plots/memorization_stability.csv"),
    chunk_rows: int = 0,
):
    """chunk_rows: test rows per block of the influence matrix (0: as many as fit in 256 MB)."""
    with cli.errors():
        params.check_range("--chunk-rows", chunk_rows, 0)
        p = params.read(params_file)
        cfg, seed = params.section(p, "estimate", params.Estimate), params.seed(p)
        masks = load_npy(trials_dir / "masks.npy", dtype=bool, ndim=2)
        train_correct = load_npy(trials_dir / "train_correct.npy", dtype=bool, ndim=2)
        test_correct = load_npy(trials_dir / "test_correct.npy", dtype=bool, ndim=2)
        train_target, test_target = train_correct, test_correct
        if cfg.target != "correct":  # a soft target: float16, what each trial says of each label
            train_target, test_target = (load_npy(trials_dir / f"{side}_{cfg.target}.npy", dtype=np.float16, ndim=2)
                                         for side in ("train", "test"))
            if train_target.shape != train_correct.shape or test_target.shape != test_correct.shape:
                raise LongtailError(f"{trials_dir}'s {cfg.target} arrays {train_target.shape}, {test_target.shape} are "
                                    f"not of its trials {train_correct.shape}, {test_correct.shape}: rerun train_trials "
                                    "(`dvc repro --force train_trials`)")
        flipped = load_prepared(prepared)[0].get("flipped")
        if flipped is not None and flipped.shape != masks.shape[1:]:
            raise LongtailError(f"{prepared / 'train.npz'} has {len(flipped)} training examples, the trials "
                                f"{masks.shape[1]}: rerun the pipeline (`dvc repro`)")
        per = estimates.per_example(masks, train_target, test_target, train_correct)
        n_test, n_train = test_correct.shape[1], masks.shape[1]
        rows = chunk_rows or influence.default_chunk_rows(n_train)
        what = f"influence [{n_test}, {n_train}] in blocks of {min(rows, n_test)} rows"
        with outputs() as out, cli.progress(-(-n_test // rows), what) as advance:
            halves, held = estimates.split(len(masks), cfg, seed)
            blocks = estimates.influence_rows(masks, test_target, per["memorization"], rows, halves=halves, held=held,
                                              advance=advance, min_influence=cfg.pair_influence,
                                              min_memorization=cfg.pair_memorization)
            reduced = out.npy_chunks(out_dir / "influence.npy", (n_test, n_train), cfg.dtype, blocks)
            result = estimates.estimates(masks, train_target, test_target, per, reduced, flipped=flipped, cfg=cfg,
                                         seed=seed, rows=rows)
            for name, array in result.arrays.items():
                out.npy(out_dir / f"{name}.npy", array)
            out.csv(out_dir / "high_influence_pairs.csv", ["train_index", "test_index", "influence", "memorization"],
                    ([int(a), int(b), f"{c:.6g}", f"{d:.6g}"] for a, b, c, d in result.pairs))
            ms, jaccard = result.stability
            out.csv(stability, ["trials", "jaccard"], zip(ms.tolist(), jaccard.round(6).tolist()))
            out.json(metrics, result.summary)
        s = result.summary
        cli.say(f"influence [{n_test}, {n_train}] {cfg.dtype} of the {cfg.target} target; {s['high_influence_pairs']} "
                f"high-influence pairs; {s['undefined_train_examples']} training examples undefined; split-half "
                f"reliability of memorization {cli.number(s['reliability']['memorization'], '.3f')}; LDS "
                f"{cli.number(s['lds']['lds'], '.3f')} on {s['lds']['held_out']} held-out trials")
        if cfg.target == "margin" and max(abs(cfg.pair_memorization), abs(cfg.pair_influence)) <= 1:
            cli.warn(f"estimate.pair_memorization = {cfg.pair_memorization} and pair_influence = {cfg.pair_influence} "
                     f"read as shares of trials, but the margin is in logits: they mark {s['high_memorization']} of "
                     f"{n_train} training examples high and {s['high_influence_pairs']} pairs; set them in logits (on "
                     "digits 3.5 and 1.7 mark as many as 0.25 and 0.15 do with 0/1 correctness)")
        if found := s.get("planted"):
            cli.say(f"planted: {found['flipped']} flipped labels, memorization AUC {cli.number(found['auc'])}, "
                    f"precision at {found['flipped']} {cli.number(found['precision_at_k'])}")


if __name__ == "__main__":
    app()
