import json

import numpy as np
import pytest

from longtail.artifacts import outputs


def test_outputs_appear_together_on_success(tmp_path):
    with outputs() as out:
        out.npy(tmp_path / "a.npy", np.arange(3))
        out.json(tmp_path / "m.json", {"x": np.float32(1.5), "nan": float("nan")})
        assert not (tmp_path / "a.npy").exists()  # nothing is in place before the end
    assert np.load(tmp_path / "a.npy").tolist() == [0, 1, 2]
    assert json.loads((tmp_path / "m.json").read_text()) == {"x": 1.5, "nan": None}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "m.json"]


def test_a_crash_midway_leaves_no_output_and_no_temporary_file(tmp_path):
    with pytest.raises(RuntimeError):
        with outputs() as out:
            out.npy(tmp_path / "a.npy", np.arange(3))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("dtype", ["float16", "float32"])
def test_chunked_npy_loads_as_the_whole_array(tmp_path, dtype):
    full = np.random.default_rng(0).random((10, 7))
    full[2, 3] = np.nan
    with outputs() as out:
        out.npy_chunks(tmp_path / "x.npy", full.shape, dtype, (full[i : i + 3] for i in range(0, 10, 3)))
    got = np.load(tmp_path / "x.npy")
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, full.astype(dtype))


def test_chunked_npy_with_missing_rows_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="wrote 3 rows"):
        with outputs() as out:
            out.npy_chunks(tmp_path / "x.npy", (5, 2), "float32", [np.zeros((3, 2))])
    assert list(tmp_path.iterdir()) == []


def test_a_killed_runs_temporary_files_are_removed_by_the_next_run(tmp_path, root):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".influence.npy.tmp{int(dead.stdout)}"  # a process that no longer exists
    stale.write_bytes(b"half a matrix")
    other = tmp_path / f".memorization.npy.tmp{int(dead.stdout)}"  # another target's: not this write's
    other.write_bytes(b"x")
    with outputs() as out:
        out.npy(tmp_path / "influence.npy", np.zeros(3))
    assert not stale.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, "influence.npy"]
    ignored = subprocess.run(["git", "check-ignore", "-q", "--no-index", f"data/influence/{stale.name}"], cwd=root)
    assert ignored.returncode == 0  # git status never shows one
