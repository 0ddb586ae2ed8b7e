"""The worker processes that share a large issue, export or reminder run (spawned, with
``documents.workers.start``): when the run is killed (``kill -9``), they exit too instead of
lingering, each holding a Django process's memory."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PARENT = """
import multiprocessing, os, time
from concurrent.futures import ProcessPoolExecutor
from kortfaktura.documents.workers import start


def pid_after(seconds):
    time.sleep(seconds)
    return os.getpid()


if __name__ == "__main__":
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context, initializer=start) as pool:
        # Two at once, each busy a while: both workers are started and used.
        pids = {future.result() for future in [pool.submit(pid_after, 2) for _ in range(2)]}
        print(" ".join(str(pid) for pid in sorted(pids)), flush=True)
        time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_workers_exit_when_their_run_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(PARENT)
    env = {**os.environ, "KORTFAKTURA_DATA_DIR": str(tmp_path)}
    parent = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env
    )
    pids: list[int] = []
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in pids), "a worker outlived its killed run"
    finally:
        if parent.poll() is None:
            parent.kill()
        for pid in pids:  # a failed run leaves nothing behind either
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
