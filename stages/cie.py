"""cie: the compression impacted exemplars (Dam et al. 2023): test examples where the reference and
the compressed model disagree, split by which of them was right."""

from pathlib import Path

from longtail import cli, layout
from longtail.analysis import cie
from longtail.artifacts import load_npy, load_prepared, outputs

app = cli.app(__doc__)


@app.command()
def main(
    compress_dir: Path = Path(layout.COMPRESS),
    prepared: Path = Path(layout.PREPARED),
    out_dir: Path = Path(layout.CIE),
    metrics: Path = Path(layout.metrics("cie")),
):
    with cli.errors():
        masks = cie.cie_masks(
            load_npy(compress_dir / "reference_pred.npy", dtype="int64", ndim=1),
            load_npy(compress_dir / "compressed_pred.npy", dtype="int64", ndim=1),
            load_prepared(prepared)[1]["y"],
        )
        counts = {kind: int(mask.sum()) for kind, mask in masks.items()}
        counts |= {"agree": len(masks["cie"]) - counts["cie"], "n_test": len(masks["cie"])}
        with outputs() as out:
            out.npz(out_dir / "masks.npz", **masks)
            out.json(metrics, counts)
        cli.say(", ".join(f"{k} {v}" for k, v in counts.items()))


if __name__ == "__main__":
    app()
