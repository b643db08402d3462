"""On PYTHONPATH in tests/test_pipeline.py's runs of `dvc repro`: where LONGTAIL_AUDIT names a folder,
every process of a stage (DVC sets DVC_STAGE for its command) logs each file it opens there, one
path per line, so that a test can check them against what dvc.yaml declares for the stage."""

import os
import sys

_folder, _stage = os.environ.get("LONGTAIL_AUDIT"), os.environ.get("DVC_STAGE")
if _folder and _stage:
    _log = open(os.path.join(_folder, f"{_stage}.{os.getpid()}.log"), "a", buffering=1)  # noqa: SIM115

    def _opened(event, args):
        if event != "open" or not isinstance(args[0], (str, bytes, os.PathLike)):
            return
        try:  # an exception here would fail the open itself
            # shutil.rmtree opens each folder relative to its parent's descriptor (dir_fd, which the
            # event does not carry), to delete it: no data is read, and the path cannot be resolved
            caller = sys._getframe(0).f_back  # None where the interpreter opens a file itself (the script)
            if caller is None or not caller.f_code.co_name.startswith("_rmtree"):
                _log.write(os.path.abspath(os.fsdecode(args[0])) + "\n")
        except Exception:  # noqa: BLE001,S110 -- the audit must never change what the stage does
            pass

    sys.addaudithook(_opened)
