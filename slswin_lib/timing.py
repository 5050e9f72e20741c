"""Where a run's time goes: named stages, timed where the work happens.

Every stage of :data:`STAGES` is timed by the library function that does it (a :func:`stage`
block or the :func:`timed` decorator). Time is *exclusive*: a stage nested in another (bootstrap
intervals inside a table's spotting and evaluation) counts for the inner stage only, so the
stages of one process never overlap. Work done by other processes (LOSO folds on Dask workers,
feature extraction in a process pool) is timed where the main process waits for it: the wait's
wall time is split over the stages that the workers report (:func:`parallel`), in proportion to
their seconds, so the stages still add up to the main process's wall time.

Nothing is written unless ``$SLSWIN_STAGE_LOG`` names a file (``./run_all.sh`` sets it to
``<work>/stage_times.jsonl`` and ``$SLSWIN_NOTEBOOK`` to the notebook it runs): each finished
outermost block appends one JSON line per stage it timed (``{"notebook", "stage", "seconds",
"end"}``). :func:`totals` gives this process's totals either way. ``python -m slswin_lib
time-split`` (:func:`slswin_lib.experiment.notebook_time_split`) adds the log up per notebook,
with the notebook's kernel time outside every stage as ``other`` and papermill's start-up and
write-out as ``notebook start-up``.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import threading
import time
from collections import defaultdict
from typing import Callable, Iterator, Mapping

__all__ = ["STAGES", "RENDERING", "LANDMARKS", "FLOW", "ROI_FEATURES", "WORKER_START", "FOLD_PREPARATION",
           "OPTIMISER_STEPS", "HELD_OUT_LOSS", "PREDICTION", "SPOTTING", "BOOTSTRAP", "PLOTS_TABLES", "OTHER",
           "START_UP", "STAGE_LOG_ENV", "NOTEBOOK_ENV", "stage", "timed", "parallel", "ParallelWait", "collect",
           "totals", "reset"]

RENDERING = "rendering"
LANDMARKS = "landmarks"
FLOW = "optical flow"
ROI_FEATURES = "ROI features"
WORKER_START = "worker start-up"
FOLD_PREPARATION = "fold data preparation"
OPTIMISER_STEPS = "optimiser steps"
HELD_OUT_LOSS = "held-out loss"
PREDICTION = "prediction"
SPOTTING = "spotting and evaluation"
BOOTSTRAP = "bootstrap intervals"
PLOTS_TABLES = "plots and tables"
#: a notebook's kernel time outside every named stage (imports, data set loading, printing)
OTHER = "other"
#: papermill's start-up, the kernel's launch and the executed notebook's write-out
START_UP = "notebook start-up"

#: the named stages in pipeline order (``OTHER`` and ``START_UP`` are what is left of a notebook's
#: wall time, computed by the time split, not timed)
STAGES = (RENDERING, LANDMARKS, FLOW, ROI_FEATURES, WORKER_START, FOLD_PREPARATION, OPTIMISER_STEPS,
          HELD_OUT_LOSS, PREDICTION, SPOTTING, BOOTSTRAP, PLOTS_TABLES)

#: environment variable naming the stage log (JSON lines) to append to; unset: nothing is written
STAGE_LOG_ENV = "SLSWIN_STAGE_LOG"
#: environment variable naming the notebook being run (set by ./run_all.sh)
NOTEBOOK_ENV = "SLSWIN_NOTEBOOK"


class _Clock(threading.local):
    """This thread's open stages (a stack of ``[name, start, seconds spent in nested stages]``)."""

    def __init__(self) -> None:
        self.stack: list[list] = []
        self.pending: dict[str, float] = defaultdict(float)
        self.collectors: list[dict[str, float]] = []


_CLOCK = _Clock()
_TOTALS: dict[str, float] = defaultdict(float)
_LOCK = threading.Lock()


def _check(name: str) -> None:
    if name not in STAGES:
        raise ValueError(f"unknown stage {name!r}; choose one of {list(STAGES)}")


def _charge(name: str, seconds: float) -> None:
    if _CLOCK.collectors:   # a worker's task: reported to the process that waits for it, not logged
        _CLOCK.collectors[-1][name] = _CLOCK.collectors[-1].get(name, 0.0) + seconds
        return
    _CLOCK.pending[name] += seconds
    with _LOCK:
        _TOTALS[name] += seconds


def _flush() -> None:
    """Append the finished outermost block's stage seconds to the log (when one is named)."""
    pending, _CLOCK.pending = _CLOCK.pending, defaultdict(float)
    path = os.environ.get(STAGE_LOG_ENV)
    if not path or not pending:
        return
    notebook, end = os.environ.get(NOTEBOOK_ENV, ""), time.time()
    lines = "".join(json.dumps({"notebook": notebook, "stage": name, "seconds": round(seconds, 6), "end": end}) + "\n"
                    for name, seconds in pending.items() if seconds > 0)
    with open(path, "a", encoding="utf-8") as f:   # one short append: whole lines even with several writers
        f.write(lines)


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the block as stage ``name`` (exclusive of the stages nested in it).

    >>> reset()
    >>> with stage(SPOTTING):
    ...     with stage(BOOTSTRAP):
    ...         pass
    >>> sorted(n for n, s in totals().items() if s > 0) == [BOOTSTRAP, SPOTTING]
    True
    """
    _check(name)
    frame = [name, time.perf_counter(), 0.0]
    _CLOCK.stack.append(frame)
    try:
        yield
    finally:
        _CLOCK.stack.pop()
        elapsed = time.perf_counter() - frame[1]
        _charge(name, max(0.0, elapsed - frame[2]))
        if _CLOCK.stack:
            _CLOCK.stack[-1][2] += elapsed
        else:
            _flush()


def timed(name: str) -> Callable:
    """Decorator: every call of the function is timed as stage ``name`` (see :func:`stage`)."""
    _check(name)

    def wrap(func: Callable) -> Callable:
        @functools.wraps(func)
        def inner(*args, **kwargs):
            with stage(name):
                return func(*args, **kwargs)

        return inner

    return wrap


class ParallelWait:
    """The stages that other processes reported during a :func:`parallel` block (worker seconds)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = defaultdict(float)

    def add(self, seconds: Mapping[str, float]) -> None:
        """Add one worker task's seconds per stage (names of :data:`STAGES`)."""
        for name, s in seconds.items():
            _check(name)
            self.parts[name] += max(0.0, float(s))


@contextlib.contextmanager
def parallel(fallback: str) -> Iterator[ParallelWait]:
    """Time a block that waits for work done elsewhere: its wall time (less the stages timed inside
    it in this process, e.g. starting the workers) is split over the stages the workers reported
    through :meth:`ParallelWait.add`, in proportion to their seconds; with no report (everything was
    reused from disk), it all goes to ``fallback``.

    >>> reset()
    >>> with parallel(PREDICTION) as wait:
    ...     wait.add({OPTIMISER_STEPS: 3.0, PREDICTION: 1.0})
    >>> t = totals(); round(t[OPTIMISER_STEPS] / (t[OPTIMISER_STEPS] + t[PREDICTION]), 2)
    0.75
    """
    _check(fallback)
    wait = ParallelWait()
    frame = [fallback, time.perf_counter(), 0.0]
    _CLOCK.stack.append(frame)
    try:
        yield wait
    finally:
        _CLOCK.stack.pop()
        elapsed = time.perf_counter() - frame[1]
        own = max(0.0, elapsed - frame[2])
        total = sum(wait.parts.values())
        if total > 0:
            for name, s in wait.parts.items():
                _charge(name, own * s / total)
        else:
            _charge(fallback, own)
        if _CLOCK.stack:
            _CLOCK.stack[-1][2] += elapsed
        else:
            _flush()


@contextlib.contextmanager
def collect() -> Iterator[dict[str, float]]:
    """Gather the seconds of the stages timed in the block into the yielded dict instead of the log.

    For a task run in a worker process: it returns the dict with its result, and the process that
    waits for it passes it to :meth:`ParallelWait.add` (so the time is counted once, as the waiting
    process's wall time).

    >>> with collect() as seconds:
    ...     with stage(FLOW):
    ...         pass
    >>> list(seconds)
    ['optical flow']
    """
    seconds: dict[str, float] = {}
    _CLOCK.collectors.append(seconds)
    try:
        yield seconds
    finally:
        _CLOCK.collectors.pop()


def totals() -> dict[str, float]:
    """This process's seconds per stage so far (every stage of :data:`STAGES`, 0 when not run)."""
    with _LOCK:
        return {name: _TOTALS.get(name, 0.0) for name in STAGES}


def reset() -> None:
    """Forget this process's totals (for tests and benchmarks)."""
    with _LOCK:
        _TOTALS.clear()
