"""The suite itself: every process collects the same tests. pytest-xdist's workers each collect the
suite and stop ("Different tests were collected between gw0 and gw1") when their test ids differ, so
an id built from bytes that embed the time (gzip's header), an object's address or a set's order
breaks `make test` on whichever machine collects across a second boundary."""

import os
import re
import subprocess
import time


def collected(python, root, hash_seed: str) -> list[str]:
    result = subprocess.run([python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"], cwd=root,
                            capture_output=True, text=True, env=os.environ | {"PYTHONHASHSEED": hash_seed})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return [line for line in result.stdout.splitlines() if "::" in line]


def test_two_processes_collect_the_same_test_ids(python, root):
    first = collected(python, root, "1")
    time.sleep(1.1)  # gzip and friends stamp the second: the next collection lands in another
    second = collected(python, root, "2")
    assert len(first) > 300
    assert first == second, sorted(set(first) ^ set(second))[:6]


def test_test_ids_are_plain_readable_text(python, root):
    """No raw bytes, control characters or memory addresses in an id: each is a name a person reads."""
    bad = [i for i in collected(python, root, "0") if not i.isprintable() or re.search(r"0x[0-9a-f]{6,}|\\x", i)]
    assert bad == []
