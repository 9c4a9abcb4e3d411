"""Traces a Jingtu process's Python allocations for `bench/fuzz.py --tracemalloc`; bench only.

Python imports `sitecustomize` at startup from the first directory on its path that has one;
the bench puts this directory first on the subprocess's PYTHONPATH, so Jingtu itself carries
no hook. With FUZZ_TRACEMALLOC_DIR set, the first SIGUSR1 starts tracing (startup, traced,
would take minutes) and each SIGUSR1 writes a snapshot there (snapshot-1.pickle, right after
tracing starts, then snapshot-2.pickle, …): what a later snapshot holds was allocated after the
first signal and is still alive. Each is written under another name and renamed, so the bench
never reads half a file.
"""

import os
import signal
import tracemalloc

_DIRECTORY = os.environ.get("FUZZ_TRACEMALLOC_DIR")

if _DIRECTORY:
    _taken = 0

    def _dump(_signum: int, _frame: object) -> None:
        global _taken
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(os.environ.get("FUZZ_TRACEMALLOC_FRAMES", "10")))
        _taken += 1
        path = os.path.join(_DIRECTORY, f"snapshot-{_taken}.pickle")
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)

    signal.signal(signal.SIGUSR1, _dump)
