"""A process killed mid-run, at a chosen point rather than a raced moment: with this folder on
PYTHONPATH and LONGTAIL_KILL_AT_CHUNK=N, a process that trains trials SIGKILLs itself (no cleanup
runs) as it starts its N-th chunk, after the chunks before it were saved. LONGTAIL_KILL_ONCE names a
file: the first process to reach that point creates it and dies; the others, and every retry, run
on (one shard of a Ray dispatch dies once)."""

import os
import signal

if "LONGTAIL_KILL_AT_CHUNK" in os.environ:
    from longtail.train import trials

    _run_chunk, _calls = trials.run_chunk, [0]

    def run_chunk(*args, **kwargs):
        _calls[0] += 1
        if _calls[0] == int(os.environ["LONGTAIL_KILL_AT_CHUNK"]):
            once = os.environ.get("LONGTAIL_KILL_ONCE")  # unset: every process dies there
            try:
                if once:
                    os.close(os.open(once, os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                return _run_chunk(*args, **kwargs)
            os.kill(os.getpid(), signal.SIGKILL)
        return _run_chunk(*args, **kwargs)

    trials.run_chunk = run_chunk
