"""Runs several server processes on one port (``--workers N``): one process is bound by one
core, so on a multi-core host N processes share the API port through SO_REUSEPORT and each runs
its own delivery loop against the same Postgres (the loops already coordinate through leases).

The parent only supervises: it forwards SIGINT/SIGTERM to the workers, restarts a worker that
dies unexpectedly, and exits when they have all stopped.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Callable
from multiprocessing.process import BaseProcess
from types import FrameType

from wirepost.config import Settings

logger = logging.getLogger(__name__)

RESTART_DELAY_SECONDS = 1.0


def run_workers(settings: Settings, count: int, target: Callable[[Settings], int]) -> int:
    context = multiprocessing.get_context("spawn")
    stopping = False

    def spawn(index: int) -> BaseProcess:
        process = context.Process(target=target, args=(settings,), name=f"wirepost-worker-{index}")
        process.start()
        return process

    def stop(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for process in workers:
            if process.is_alive() and process.pid is not None:
                process.terminate()  # SIGTERM: the worker shuts down cleanly

    workers = [spawn(i) for i in range(count)]
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logger.info("workers_started", extra={"workers": count})
    while True:
        alive = 0
        for index, process in enumerate(workers):
            if process.is_alive():
                alive += 1
            elif not stopping:
                logger.error("worker_died", extra={"worker": index, "exitcode": process.exitcode})
                time.sleep(RESTART_DELAY_SECONDS)
                workers[index] = spawn(index)
                alive += 1
        if stopping and alive == 0:
            return 0
        time.sleep(0.2)
