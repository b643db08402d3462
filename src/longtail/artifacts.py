"""Writing artifacts so that a crash never leaves half an output behind.

A stage opens one `Outputs` transaction, saves every file through it, and only when the whole stage
succeeded are the temporary files renamed into place. On any error they are removed.
"""

from __future__ import annotations

import csv
import glob
import json
import math
import os
import pickle
import shutil
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from longtail import LongtailError, layout


def _jsonable(value):
    """Plain JSON for DVC: numpy scalars become Python numbers, NaN and inf become null."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# A temporary output is ".NAME.tmpPID" beside NAME (git-ignored as .*.tmp*).
_TMP_PREFIX = ".{name}.tmp"


def remove_stale(target: Path) -> list[Path]:
    """Remove the temporary files of `target` that a killed run left (their process is gone): an
    influence matrix's is gigabytes at CIFAR size. Returns what was removed."""
    removed = []
    prefix = _TMP_PREFIX.format(name=target.name)
    for stale in target.parent.glob(f"{glob.escape(prefix)}*"):
        pid = stale.name[len(prefix):]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
            removed.append(stale)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


class Outputs:
    """Collects a stage's outputs as temporary files; `commit` renames them all into place."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, target: str | os.PathLike) -> Path:
        """A temporary path beside `target` that becomes `target` on commit."""
        target = Path(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        remove_stale(target)
        tmp = target.with_name(f"{_TMP_PREFIX.format(name=target.name)}{os.getpid()}")
        self._pending.append((tmp, target))
        return tmp

    def npy(self, target, array: np.ndarray) -> None:
        with open(self.path(target), "wb") as f:
            np.save(f, array)

    def npy_chunks(self, target, shape: tuple[int, ...], dtype, chunks: Iterable[np.ndarray]):
        """Write an .npy file from row blocks, so the whole array never sits in memory. Returns the
        return value of `chunks` where it is a generator (what it reduced the blocks to), else None."""
        dtype = np.dtype(dtype)
        rows, blocks = 0, iter(chunks)
        with open(self.path(target), "wb") as f:
            header = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
            np.lib.format.write_array_header_2_0(f, header)
            while True:
                try:
                    block = next(blocks)
                except StopIteration as end:
                    result = end.value
                    break
                np.ascontiguousarray(block, dtype=dtype).tofile(f)
                rows += len(block)
        if rows != shape[0]:
            raise RuntimeError(f"{target}: wrote {rows} rows, expected {shape[0]}")
        return result

    def npz(self, target, **arrays: np.ndarray) -> None:
        with open(self.path(target), "wb") as f:
            np.savez_compressed(f, **arrays)

    def json(self, target, data: dict) -> None:
        with open(self.path(target), "w") as f:
            json.dump(_jsonable(data), f, indent=2)
            f.write("\n")

    def csv(self, target, header: list[str], rows: Iterable[Iterable]) -> None:
        with open(self.path(target), "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows(rows)

    def commit(self) -> None:
        for tmp, target in self._pending:
            if tmp.is_dir() and target.exists():  # a folder output replaces the old folder whole
                shutil.rmtree(target)
            os.replace(tmp, target)
        self._pending.clear()

    def discard(self) -> None:
        for tmp, _ in self._pending:
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)
        self._pending.clear()


@contextmanager
def outputs() -> Iterator[Outputs]:
    """`with outputs() as out: out.npy(...)`: all files appear together, or none does."""
    out = Outputs()
    try:
        yield out
    except BaseException:
        out.discard()
        raise
    out.commit()


def load_npy(path, *, dtype=None, ndim: int | None = None, mmap: bool = False, shape: tuple | None = None) -> np.ndarray:
    """Load an artifact, with a message that names the stage to run when it is missing or malformed.
    mmap: map the file instead of reading it (an influence matrix of gigabytes, read in blocks);
    shape: the prepared data's, which the array must have."""
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"missing input {path}: run the stage that writes it (`dvc repro`)")
    with _readable(path):
        array = np.load(path, mmap_mode="r" if mmap else None)
    if not isinstance(array, np.ndarray):
        raise LongtailError(f"{path} holds {type(array).__name__}, not one array: rerun the stage that writes it "
                            f"(`dvc repro --force {layout.writer(path)}`)")
    _check(path, array, dtype, ndim)
    if shape is not None and array.shape != tuple(shape):
        raise LongtailError(f"{path.name} is {array.shape}, the prepared data {list(shape)}: rerun the pipeline "
                            "(`dvc repro`)")
    return array


def load_npz(path, keys: Iterable[str], optional: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """Every array of the .npz, which must hold `keys`; given `optional`, only `keys` and those of
    `optional` it holds (the others are never read: a stage that needs the labels skips the images)."""
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"missing input {path}: run the stage that writes it (`dvc repro`)")
    with _readable(path), np.load(path) as f:
        missing = [k for k in keys if k not in f]
        if missing:
            raise LongtailError(f"{path} lacks arrays {missing}; it holds {sorted(f.files)}: it was written by another "
                                f"version, rerun the stage that writes it (`dvc repro --force {layout.writer(path)}`)")
        wanted = f.files if optional is None else [k for k in (*keys, *optional) if k in f]
        return {k: f[k] for k in wanted}


def load_prepared(prepared) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(train, test) of data/prepared: x, y and, where prepare wrote them, rare and flipped; checked
    against their contract (data.prepared)."""
    from longtail.data import prepared as contract

    prepared = Path(prepared)
    train, test = (load_npz(prepared / f"{split}.npz", ["x", "y"]) for split in ("train", "test"))
    contract.check(train, test, f"{prepared}/ (rerun the prepare stage: `dvc repro --force prepare`)")
    return train, test


def load_trials(folder, target: str = "correct") -> dict[str, np.ndarray]:
    """data/trials as the estimate reads it: masks, train_correct and test_correct (bool [t, n] and
    [t, m]) and the train_ and test_ arrays of estimate.target (those 0/1 arrays for `correct`, else
    the float16 soft ones train_trials kept), checked against each other."""
    folder = Path(folder)
    found = {name: load_npy(folder / f"{name}.npy", dtype=bool, ndim=2)
             for name in ("masks", "train_correct", "test_correct")}
    found |= {f"{side}_target": found[f"{side}_correct"] for side in ("train", "test")}
    if target != "correct":
        found |= {f"{side}_target": load_npy(folder / f"{side}_{target}.npy", dtype=np.float16, ndim=2)
                  for side in ("train", "test")}
        if any(found[f"{side}_target"].shape != found[f"{side}_correct"].shape for side in ("train", "test")):
            raise LongtailError(f"{folder}'s {target} arrays {found['train_target'].shape}, {found['test_target'].shape} "
                                f"are not of its trials {found['train_correct'].shape}, {found['test_correct'].shape}: "
                                "rerun train_trials (`dvc repro --force train_trials`)")
    return found


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A file that cannot be read as what it should be is corrupt: say so, and what to rerun."""
    try:
        yield
    except LongtailError:
        raise
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError) as e:
        raise LongtailError(f"{path} is corrupt or not a {path.suffix} file ({type(e).__name__}: {e}): rerun the "
                            f"stage that writes it (`dvc repro --force {layout.writer(path)}`)") from None


def load_json(path) -> dict:
    """A stage's metrics file, with a message that names the stage to run when it is missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"missing input {path}: run the stage that writes it (`dvc repro`)")
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LongtailError(f"{path} is not valid JSON ({e}): rerun the stage that writes it (`dvc repro`)") from None
    if not isinstance(value, dict):
        raise LongtailError(f"{path} must hold a JSON object, found {type(value).__name__}: rerun its stage")
    return value


def _check(path, array, dtype, ndim) -> None:
    rerun = f"rerun the stage that writes it (`dvc repro --force {layout.writer(Path(path))}`)"
    if dtype is not None and array.dtype != np.dtype(dtype):
        raise LongtailError(f"{path}: expected dtype {np.dtype(dtype)}, found {array.dtype}: {rerun}")
    if ndim is not None and array.ndim != ndim:
        raise LongtailError(f"{path}: expected {ndim} dimensions, found shape {list(array.shape)}: {rerun}")


def load_csv(path, columns: list[str], kind: type) -> np.ndarray:
    """The first len(columns) columns of a stage's CSV file, as `kind` [rows, len(columns)], with a
    message that names the stage to run when it is missing or malformed; the header must start
    with `columns`."""
    path = Path(path)
    if not path.exists():
        raise LongtailError(f"missing input {path}: run the stage that writes it (`dvc repro`)")
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][: len(columns)] != columns:
        raise LongtailError(f"{path}: expected a CSV whose columns start with {','.join(columns)}, found "
                            f"{','.join(rows[0]) if rows else 'an empty file'}: rerun the stage that writes it")
    try:
        values = [[kind(value) for value in row[: len(columns)]] for row in rows[1:]]
        if any(len(row) != len(columns) for row in values):
            raise ValueError
    except ValueError:
        raise LongtailError(f"{path}: {' and '.join(columns)} must be {kind.__name__}s on every row") from None
    return np.array(values, dtype=np.float64 if kind is float else np.int64).reshape(-1, len(columns))
