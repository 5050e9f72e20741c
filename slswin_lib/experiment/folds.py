"""One fold (train on some videos, score others) and mapping folds over workers.

A fold is described by a :class:`FoldJob`; :func:`train_fold` runs it in its own folder and is
resumable: a fold whose ``scores.npz`` exists is done (its record's identity digest must match,
else it is refused rather than silently reused); an unfinished fold resumes at its last
checkpoint. :func:`map_folds` runs jobs in this process, on a local Dask cluster (one per process,
kept between calls: :func:`local_cluster`) or on an existing scheduler. Features reach the workers
as cache files that each worker memory-maps.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..config import VAL_SAMPLES, TrainConfig, run_digest
from ..io import save_npz_atomic
from ..timing import (FOLD_PREPARATION, HELD_OUT_LOSS, OPTIMISER_STEPS, PREDICTION, WORKER_START, parallel,
                      stage)
from .runs import read_fold_record, write_fold_record
from .sets import VideoInfo

__all__ = ["FoldJob", "FoldResult", "fold_identity", "train_fold", "map_folds", "local_cluster", "VAL_SAMPLES",
           "fold_memory_bytes", "memory_limited_workers"]



@dataclass(frozen=True)
class FoldJob:
    """Everything one fold needs.

    Attributes:
        fold_dir: the fold's folder (checkpoint, record, scores).
        name: the fold's name (the held-out subject, or ``"all"``).
        train: videos to train on; ``test``: videos to score (may be empty).
        inputs: video key -> its cached feature file (memory-mapped by the worker) or the
            ``(n_frames - k, S, S, 3)`` array itself.
        k: frame distance; ``expression``: ``"me"`` or ``"mae"``.
        train_cfg: the training settings; ``model_name``: a registered model.
        threads: torch threads in the worker (None: leave as is).
        model_kwargs: ``create_model`` arguments the profile's model settings imply
            (:func:`slswin_lib.models.model_kwargs`).
        signed_u: the features keep the sign of u (``FeatureConfig.abs_uv`` off), so the flip
            augmentation negates u.
        keep_checkpoint: keep the trained model (``checkpoint.pt``) once the fold's scores are
            written; off, only the scores and the record stay (a finished fold is reused from its
            scores either way).
    """

    fold_dir: str
    name: str
    train: tuple[VideoInfo, ...]
    test: tuple[VideoInfo, ...]
    inputs: Mapping[str, Any]
    k: int
    expression: str
    train_cfg: TrainConfig
    model_name: str
    threads: int | None = None
    model_kwargs: Mapping[str, Any] = field(default_factory=dict)
    signed_u: bool = False
    keep_checkpoint: bool = True


@dataclass
class FoldResult:
    """A finished fold: held-out scores (video key -> ``(n_frames - k,)``) and its record.

    ``seconds``: what this call of :func:`train_fold` spent per :mod:`~slswin_lib.timing` stage (the
    worker's imports as worker start-up, data preparation, optimiser steps, held-out loss,
    prediction; empty for a fold reused from disk), for the run's time split."""

    name: str
    scores: dict[str, np.ndarray]
    record: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


def fold_identity(train: Sequence[VideoInfo], test: Sequence[VideoInfo], k: int, expression: str,
                  train_cfg: TrainConfig, model_name: str, model_kwargs: Mapping[str, Any] | None = None,
                  signed_u: bool = False) -> str:
    """The :func:`~slswin_lib.config.run_digest` of everything that decides a fold's scores
    (except the feature values, whose own digest names their cache files)."""
    return run_digest({"train": list(train), "test": list(test), "k": k, "expression": expression,
                       "model": model_name, "train_cfg": train_cfg, "model_kwargs": dict(model_kwargs or {}),
                       "signed_u": signed_u})


def _validation_draw(features: Sequence[np.ndarray], y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """At most :data:`~slswin_lib.config.VAL_SAMPLES` held-out samples, positives and negatives in their proportion.

    Args:
        features: the held-out videos' ``(n_v, S, S, 3)`` features (memory-mapped: only the drawn
            samples are read).
        y: ``(sum n_v,)`` their labels, video after video.

    Returns:
        ``(n, 3, S, S)`` model input and ``(n,)`` labels of the drawn samples, in video order.
    """
    from ..features.preprocess import to_model_input

    if len(y) <= VAL_SAMPLES:
        idx = np.arange(len(y))
    else:
        rng = np.random.default_rng(seed)
        pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y <= 0)
        n_pos = min(len(pos), max(1, round(VAL_SAMPLES * len(pos) / len(y)))) if len(pos) else 0
        idx = np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                      rng.choice(neg, min(len(neg), VAL_SAMPLES - n_pos), replace=False)]))
    starts = np.cumsum([0] + [len(f) for f in features])
    video = np.searchsorted(starts, idx, side="right") - 1
    rows = [np.asarray(features[v][i - starts[v]]) for v, i in zip(video, idx)]
    return to_model_input(np.stack(rows)), y[idx]


def _name(source: Any, key: str) -> str:
    """A video's name in errors: its feature file, else its key."""
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"features of {key}"


def train_fold(job: FoldJob, progress: bool = True) -> FoldResult:
    """Train on ``job.train``, score ``job.test``; writes the record, then ``scores.npz`` last."""
    t_begin = time.perf_counter()
    import torch

    from ..determinism import enter, fold_threads
    from ..training.labels import make_labels
    from ..features.preprocess import to_model_input
    from ..training.stream import open_features, training_samples
    from ..training.trainer import TrainingError, fit, predict

    t_import = time.perf_counter() - t_begin   # the first fold of a worker process imports torch and the models
    fold = Path(job.fold_dir)
    done = fold / "scores.npz"
    identity = fold_identity(job.train, job.test, job.k, job.expression, job.train_cfg, job.model_name,
                             job.model_kwargs, job.signed_u)
    if done.exists():
        record = read_fold_record(fold)
        if record.get("fingerprint") != identity:
            raise TrainingError(f"{fold} holds a finished fold trained with other settings (model, data, k "
                                "or training options); delete the folder or run under another tag")
        with np.load(done) as z:
            return FoldResult(job.name, {key: z[key] for key in z.files}, record)
    enter(job.train_cfg.cpu_kernels)   # the profile's CPU kernels (slswin_lib.determinism)
    threads = fold_threads(job.train_cfg.cpu_kernels, job.threads)
    if threads:
        torch.set_num_threads(threads)
    cfg, k = job.train_cfg, job.k
    t0 = time.perf_counter()
    labels = [make_labels(i.n_frames - k, k, i.intervals, cfg.labelling, cfg.pseudo_window) for i in job.train]
    if not any(lab.any() for lab in labels):
        raise TrainingError(f"fold {job.name}: the training videos hold no {job.expression} sample; "
                            "a model cannot learn from negatives only (check the annotations)")
    rng = np.random.default_rng(cfg.seed)
    # streamed: indices over the memory-mapped feature files, samples read when their batch is drawn
    samples = training_samples([job.inputs[i.key] for i in job.train], labels, cfg,
                               augment=cfg.augment and job.expression == "me", signed_u=job.signed_u,
                               rng=rng, groups=[i.subject for i in job.train],
                               names=[_name(job.inputs[i.key], i.key) for i in job.train])
    y, groups = samples.y, samples.groups
    test_inputs = {i.key: open_features(job.inputs[i.key], i.n_frames - k, name=_name(job.inputs[i.key], i.key))
                   for i in job.test}
    train_shape = samples.features[0].shape[1:]
    if any(f.shape[1:] != train_shape for f in test_inputs.values()):
        raise TrainingError(f"fold {job.name}: the held-out videos' features differ in sample shape from the "
                            f"training videos' {train_shape}; extract them with the same feature settings")
    val = None
    if job.test:  # held-out loss curve against the held-out videos' labels
        val = _validation_draw([test_inputs[i.key] for i in job.test],
                               np.concatenate([make_labels(i.n_frames - k, k, i.intervals, cfg.labelling,
                                                           cfg.pseudo_window) for i in job.test]), cfg.seed)
    t_prepare = time.perf_counter() - t0
    model, history = fit(job.model_name, samples, y, cfg, checkpoint=fold / "checkpoint.pt", groups=groups, val=val,
                         progress=progress, desc=f"fold {job.name}", model_kwargs=dict(job.model_kwargs),
                         meta={"k": k, "expression": job.expression, "labelling": cfg.labelling, "fold": job.name})
    t_train = time.perf_counter() - t0 - t_prepare
    scores = {key: predict(model, feats, batch_size=cfg.predict_batch_size, transform=to_model_input,
                           progress=progress, desc=f"fold {job.name}: {key}")
              for key, feats in test_inputs.items()}
    record = {"fingerprint": identity, "history": history.as_dict(), "prepare_seconds": t_prepare,
              "train_seconds": t_train, "val_seconds": history.val_seconds,
              "predict_seconds": time.perf_counter() - t0 - t_prepare - t_train,
              "steps": len(history.step_loss), "n_train": int(len(y)), "n_train_positive": int((y > 0).sum()),
              "label_variance": float(np.var(y)), "n_test": int(sum(len(s) for s in scores.values())),
              "finished": time.time()}
    write_fold_record(fold, record)
    save_npz_atomic(done, **scores)
    if not job.keep_checkpoint:
        (fold / "checkpoint.pt").unlink(missing_ok=True)
    seconds = {WORKER_START: t_import, OPTIMISER_STEPS: t_train - history.val_seconds,
               HELD_OUT_LOSS: history.val_seconds, PREDICTION: record["predict_seconds"]}
    # the rest of the call: labels, the streamed sample index, the held-out draw, writing the results
    seconds[FOLD_PREPARATION] = max(0.0, time.perf_counter() - t_begin - sum(seconds.values()))
    return FoldResult(job.name, scores, record, seconds)


def fold_memory_bytes(job: FoldJob) -> int:
    """An upper bound of one fold's peak memory: a worker's base (torch, the model, its optimiser,
    a few batches) plus its streamed training set's indices, from ``benchmarks/bench_scale.py``
    (:data:`~slswin_lib.config.FOLD_BASE_BYTES`, :data:`~slswin_lib.config.FOLD_BYTES_PER_SAMPLE`),
    counting every training sample as kept and augmented."""
    from ..config import FOLD_BASE_BYTES, FOLD_BYTES_PER_SAMPLE

    samples = sum(i.n_frames - job.k for i in job.train) * (4 if job.expression == "me" else 1)
    return FOLD_BASE_BYTES + FOLD_BYTES_PER_SAMPLE * samples


def memory_limited_workers(jobs: Sequence[FoldJob], workers: int, available: int | None = None) -> int:
    """``workers`` lowered so that that many of the largest folds fit in the available memory (at least 1)."""
    if workers <= 1 or not jobs:
        return max(1, workers)
    if available is None:
        import psutil

        available = psutil.virtual_memory().available   # memory available to new processes
    need = max(fold_memory_bytes(job) for job in jobs)
    fit = max(1, available // need)
    if fit < workers:
        import warnings

        warnings.warn(f"{workers} fold workers asked for, but a fold needs up to {need / 2**30:.1f} GiB and "
                      f"{available / 2**30:.1f} GiB are available: running {fit} at once", stacklevel=3)
    return int(min(workers, fit))


#: this process's local Dask clusters, by number of workers and environment (see :func:`local_cluster`)
_LOCAL_CLUSTERS: dict[tuple, Any] = {}


def local_cluster(workers: int, env: Mapping[str, str] | None = None):
    """This process's local Dask cluster of ``workers`` single-threaded worker processes.

    Started on first use and kept for later calls, so the LOSO runs of a notebook (a dozen in the
    ablations) share workers that have torch and the models imported already (starting a cluster
    and importing them costs ~5 s a run on 2 cores); distributed closes it when the process exits.
    A cluster that has been closed is replaced.

    ``env``: environment variables every worker process starts with, e.g. the pinned CPU kernels
    (:func:`slswin_lib.determinism.kernel_env`); a cluster is kept per ``env``. They are set before the
    worker is spawned (distributed's ``nanny.pre-spawn-environ``: numpy reads its variable on import,
    which a worker does before its ``env`` would be applied), so this process gets them too.
    """
    import dask
    from distributed import LocalCluster

    key = (workers, tuple(sorted((env or {}).items())))
    cluster = _LOCAL_CLUSTERS.get(key)
    if cluster is None or cluster.status.name not in ("created", "starting", "running"):
        pre_spawn = "distributed.nanny.pre-spawn-environ"
        with dask.config.set({pre_spawn: {**dask.config.get(pre_spawn, {}), **(env or {})}}):
            cluster = _LOCAL_CLUSTERS[key] = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                          dashboard_address=None, silence_logs=40)
    return cluster


def _kernels(jobs: Sequence[FoldJob]) -> str:
    """The one CPU-kernel setting (``TrainConfig.cpu_kernels``) of a batch of fold jobs."""
    modes = sorted({job.train_cfg.cpu_kernels for job in jobs})
    if len(modes) > 1:
        raise ValueError(f"fold jobs with different CPU kernels {modes} cannot share workers; map them separately")
    return modes[0] if modes else "native"


def map_folds(jobs: Sequence[FoldJob], workers: int = 1, scheduler_address: str | None = None,
              progress: bool = True) -> list[FoldResult]:
    """Run fold jobs in-process (``workers <= 1``), on a local Dask cluster of ``workers`` processes,
    or on the cluster at ``scheduler_address``; results in the order of ``jobs``.

    The wait is timed (:mod:`slswin_lib.timing`): starting the cluster as worker start-up, the rest
    split over the stages the folds report (reused folds: data preparation).

    A local cluster's workers start with the jobs' CPU kernels (``TrainConfig.cpu_kernels``,
    :mod:`slswin_lib.determinism`); the workers of a cluster at ``scheduler_address`` get them when
    their first fold starts (:func:`slswin_lib.determinism.enter`), so start those with the variables
    set (``python -m slswin_lib.determinism --profile P``)."""
    from tqdm.auto import tqdm

    if scheduler_address is None:
        workers = memory_limited_workers(jobs, workers)
    bar = tqdm(total=len(jobs), desc="folds", unit="fold", disable=not progress)
    results: list[FoldResult] = []
    with parallel(FOLD_PREPARATION) as wait:
        if scheduler_address is None and workers <= 1:
            for job in jobs:
                results.append(train_fold(job, progress=progress))
                wait.add(results[-1].seconds)
                bar.update(1)
            bar.close()
            return results
        from distributed import Client, as_completed

        from ..determinism import kernel_env

        with stage(WORKER_START):
            client = Client(scheduler_address or local_cluster(workers, kernel_env(_kernels(jobs))))
        try:
            futures = [client.submit(train_fold, job, progress=False, pure=False, key=f"fold-{job.name}")
                       for job in jobs]
            for fut in as_completed(futures):
                results.append(fut.result())
                wait.add(results[-1].seconds)
                bar.update(1)
        finally:
            client.close()
            bar.close()
    order = {job.name: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r.name])
