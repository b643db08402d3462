"""check: params.yaml, every section of it, before any other stage runs. A misspelt name (a dataset,
arch, loss, method, statistic or knob), a value out of range or a dataset whose files are not in
its folder stops `dvc repro` and `dvc exp run -S` here, with one line naming what to fix, before DVC
removes any stage's outputs to rerun it and before it resolves a dep named after a param
(prepare's data/raw/<dataset>).

dvc.yaml runs it first: it depends on params.yaml as a file (any edit reruns it, in a second) and
prepare, which every other stage follows, depends on its output, whose text never changes, so a
passing check reruns nothing. The output is `persist` (DVC leaves it in place while the check runs)
and kept in git."""

from pathlib import Path

from longtail import LongtailError, cli, layout, params
from longtail.data import datasets
from longtail.artifacts import outputs

app = cli.app(__doc__)

CHECKED = "params.yaml passed stages/check.py: every name and value of every section is valid.\n"


@app.command()
def main(params_file: Path = cli.PARAMS, out: Path = Path(layout.CHECKED)):
    with cli.errors():
        p = params.read(params_file)
        params.check_all(p)
        cfg = params.section(p, "data", params.Data)
        folder = datasets.folder_of(cfg.dataset, cfg.root)
        if not folder.is_dir():
            raise LongtailError(f"data.dataset {cfg.dataset}: its folder {folder}/ is missing (each dataset has one "
                                f"under data.root, in git with a README): restore it with `git checkout -- {folder}` "
                                f"or set data.root to the folder that holds the datasets' folders")
        if not cfg.download and (missing := datasets.absent(cfg.dataset, cfg.root)):
            raise LongtailError(missing)
        with outputs() as written:
            written.path(out).write_text(CHECKED)
        cli.say(f"{params_file}: every section is valid")


if __name__ == "__main__":
    app()
