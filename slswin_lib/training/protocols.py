"""The MEGC protocols on one expression type (SPEC 4).

* :func:`run_loso`: MEGC 2021, leave-one-subject-out. Each fold trains on the other subjects'
  videos and scores the held-out subject's videos; folds run in-process, on a local Dask
  cluster (``workers > 1``) or on an existing one (``scheduler_address``).
* :func:`run_megc2022`: train on one data set (CAS(ME)^2 or SAMM-LV), score unseen videos.
* :func:`baseline_score_set`: a training-free floor in the same harness (mean ROI flow magnitude).

Every protocol writes a *score set* (``scores.npz``, ``videos.csv``, ``gt.csv``: the format of
the authors' released predictions, see :mod:`slswin_lib.scores`) plus ``manifest.json`` under its
run folder, so results are re-spotted and re-evaluated by the same code as the released scores.
Folds are resumable: a fold whose ``scores.npz`` exists is done; an unfinished fold resumes at its
first unfinished epoch from ``checkpoint.pt``.
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..config import TrainConfig
from ..io import atomic_path, atomic_write_json, repo_root, save_npz_atomic
from ..scores import ScoreSet, load_score_set
from .labels import make_labels

__all__ = ["VideoInfo", "video_infos", "run_loso", "run_megc2022", "baseline_score_set",
           "write_score_set", "run_manifest", "fold_fingerprint"]


@dataclass(frozen=True)
class VideoInfo:
    """What the protocols need of one video of an expression type's set."""

    key: str
    subject: str
    video_code: str
    n_frames: int
    intervals: tuple[tuple[int, int], ...]  # ground truth of this type, 0-based inclusive


def video_infos(videos: Iterable, expression: str) -> list[VideoInfo]:
    """:class:`VideoInfo` of each data-set video (``slswin_lib.data`` videos) for one type."""
    out = []
    for v in videos:
        ev = tuple((int(e.onset), int(e.offset)) for e in v.events if e.type == expression)
        out.append(VideoInfo(v.key, str(v.subject), str(v.video_id), int(v.n_frames), ev))
    return out


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo_root(), capture_output=True,
                              text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def run_manifest(**facts: Any) -> dict[str, Any]:
    """Facts that identify a run: versions, git commit, machine, plus the given ones."""
    import timm
    import torch

    from .. import __version__

    return {"slswin": __version__, "git_commit": _git_commit(), "torch": torch.__version__,
            "timm": timm.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "cuda": torch.cuda.is_available(),
            "written": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **facts}


def write_score_set(out_dir: str | os.PathLike, infos: Sequence[VideoInfo], scores: Mapping[str, np.ndarray],
                    k: int, name: str = "", manifest: dict | None = None) -> ScoreSet:
    """Write ``scores.npz``, ``videos.csv``, ``gt.csv`` (and ``manifest.json``); return the set."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    videos = pd.DataFrame([{"subject": i.subject, "video_code": i.video_code, "n_frames": i.n_frames, "k": k}
                           for i in infos])
    gt = pd.DataFrame([{"subject": i.subject, "video_code": i.video_code, "onset": a, "offset": b}
                       for i in infos for a, b in i.intervals], columns=["subject", "video_code", "onset", "offset"])
    with atomic_path(out / "videos.csv") as tmp:
        videos.to_csv(tmp, index=False)
    with atomic_path(out / "gt.csv") as tmp:
        gt.to_csv(tmp, index=False)
    save_npz_atomic(out / "scores.npz", **{i.key: np.asarray(scores[i.key], np.float64) for i in infos})
    if manifest is not None:
        atomic_write_json(out / "manifest.json", manifest)
    return load_score_set(out / "scores.npz", out / "videos.csv", out / "gt.csv", name=name)


def _save_inputs(out: Path, features: Mapping[str, np.ndarray], keys: Iterable[str]) -> dict[str, str]:
    """Per-video ``.npy`` copies of the features that fold workers memory-map (written once)."""
    paths = {}
    for key in keys:
        path = out / "inputs" / f"{key}.npy"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.asarray(features[key], np.float32))
        paths[key] = str(path)
    return paths


def fold_fingerprint(train: Sequence[VideoInfo], test: Sequence[VideoInfo], k: int, expression: str,
                     train_cfg: dict, model_name: str) -> str:
    """A short hash of everything that decides a fold's scores (except the feature values)."""
    import hashlib

    facts = {"train": [asdict(i) for i in train], "test": [asdict(i) for i in test], "k": k,
             "expression": expression, "model": model_name,
             "train_cfg": {k_: v for k_, v in train_cfg.items() if k_ not in ("fold_workers", "device",
                                                                              "predict_batch_size")}}
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _train_and_score(fold_dir: str, name: str, train: Sequence[VideoInfo], test: Sequence[VideoInfo],
                     inputs: Mapping[str, str], k: int, expression: str, train_cfg: dict, model_name: str,
                     threads: int | None, progress: bool) -> dict[str, Any]:
    """One fold: train on ``train``, score ``test``; writes ``fold_dir/scores.npz`` last."""
    import torch

    from .samples import to_model_input, training_arrays
    from .trainer import TrainingError, fit, predict

    fold = Path(fold_dir)
    done = fold / "scores.npz"
    setting = fold_fingerprint(train, test, k, expression, train_cfg, model_name)
    if done.exists():
        info = json.loads((fold / "fold.json").read_text())
        if info.get("fingerprint") != setting:
            raise TrainingError(f"{fold} holds a finished fold trained with other settings (model, data, k "
                                "or training options); delete the folder or run under another tag")
        with np.load(done) as z:
            scores = {key: z[key] for key in z.files}
        return {"name": name, "scores": scores, **info}
    if threads:
        torch.set_num_threads(threads)
    t0 = time.perf_counter()
    cfg = train_cfg
    tc = TrainConfig(**{k_: v for k_, v in cfg.items() if k_ not in _EXTRA_KEYS})
    labels = [make_labels(i.n_frames - k, k, i.intervals, tc.labelling, tc.pseudo_window) for i in train]
    if not any(lab.any() for lab in labels):
        raise TrainingError(f"fold {name}: the training videos hold no {expression} sample; "
                            "a model cannot learn from negatives only (check the annotations)")
    rng = np.random.default_rng(tc.seed)
    x, y, groups = training_arrays([np.load(inputs[i.key], mmap_mode="r") for i in train], labels, tc,
                                   augment=tc.augment and expression == "me", signed_u=cfg["signed_u"],
                                   rng=rng, groups=[i.subject for i in train])
    model_kwargs = {} if cfg.get("drop_path_rate") is None else {"drop_path_rate": cfg["drop_path_rate"]}
    model, history = fit(model_name, x, y, tc, checkpoint=fold / "checkpoint.pt", groups=groups,
                         progress=progress, desc=f"fold {name}", model_kwargs=model_kwargs,
                         meta={"k": k, "expression": expression, "labelling": tc.labelling, "fold": name})
    t_train = time.perf_counter() - t0
    scores = {i.key: predict(model, to_model_input(np.load(inputs[i.key], mmap_mode="r")),
                             batch_size=cfg["predict_batch_size"]) for i in test}
    info = {"fingerprint": setting, "history": history.as_dict(), "train_seconds": t_train,
            "predict_seconds": time.perf_counter() - t0 - t_train, "n_train": int(len(y)),
            "n_train_positive": int((y > 0).sum()), "n_test": int(sum(len(s) for s in scores.values()))}
    atomic_write_json(fold / "fold.json", info)
    save_npz_atomic(done, **scores)
    return {"name": name, "scores": scores, **info}


def _map_folds(jobs: list[dict], workers: int, scheduler_address: str | None, progress: bool) -> list[dict]:
    """Run fold jobs in-process, on a local Dask cluster, or on the cluster at ``scheduler_address``."""
    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="folds", unit="fold", disable=not progress)
    results = []
    if scheduler_address is None and workers <= 1:
        for job in jobs:
            results.append(_train_and_score(**job, progress=progress))
            bar.update(1)
        bar.close()
        return results
    from distributed import Client, LocalCluster, as_completed

    cluster = None
    if scheduler_address is None:
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
    client = Client(scheduler_address or cluster)
    try:
        futures = [client.submit(_train_and_score, **job, progress=False, pure=False, key=f"fold-{job['name']}")
                   for job in jobs]
        for fut in as_completed(futures):
            results.append(fut.result())
            bar.update(1)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
        bar.close()
    order = {job["name"]: i for i, job in enumerate(jobs)}
    return sorted(results, key=lambda r: order[r["name"]])


#: keys of a fold's training settings that are not TrainConfig fields
_EXTRA_KEYS = ("drop_path_rate", "signed_u")


def _train_cfg(profile) -> dict[str, Any]:
    cfg = asdict(profile.train)
    cfg["drop_path_rate"] = getattr(profile.model, "drop_path_rate", None)
    cfg["signed_u"] = not profile.features.abs_uv
    return cfg


def run_loso(infos: Sequence[VideoInfo], features: Mapping[str, np.ndarray], *, expression: str, k: int,
             profile, out_dir: str | os.PathLike, model_name: str | None = None,
             subjects: Sequence[str] | None = None, workers: int | None = None,
             scheduler_address: str | None = None, progress: bool = True, name: str = "") -> ScoreSet:
    """MEGC 2021 leave-one-subject-out on one expression type; returns the held-out score set.

    Args:
        infos: the videos of the type's set (:func:`video_infos` of ``dataset.select(type)``).
        features: video key -> ``(n_frames - k, S, S, 3)`` features (``slswin_lib.features``).
        k: the type's k (SPEC 2.1), the one the features were extracted with.
        profile: a :class:`~slswin_lib.config.Profile` (``train`` and ``model`` sections).
        out_dir: run folder (resumable: finished folds are kept, unfinished ones resume).
        model_name: registered model; default ``profile.model.name``.
        subjects: the held-out subjects to run (default all: the full LOSO). A subset is a
            budget knob of the quick profile's ablations; its tables say so.
        workers: parallel folds on a local Dask cluster (default ``profile.train.fold_workers``).
        scheduler_address: an existing Dask scheduler to send the folds to.
    """
    model_name = model_name or profile.model.name
    out = Path(out_dir)
    all_subjects = list(dict.fromkeys(i.subject for i in infos))
    held_out = list(subjects) if subjects is not None else all_subjects
    missing = sorted(set(held_out) - set(all_subjects))
    if missing:
        raise ValueError(f"subject(s) {missing} have no {expression} video; LOSO folds exist for {all_subjects}")
    for i in infos:
        if i.key not in features:
            raise ValueError(f"no features for video {i.key}; extract them first")
        if len(features[i.key]) != i.n_frames - k:
            raise ValueError(f"video {i.key}: {len(features[i.key])} feature samples, expected "
                             f"n_frames - k = {i.n_frames - k}; were the features extracted with k = {k}?")
    inputs = _save_inputs(out, features, [i.key for i in infos])
    cfg = _train_cfg(profile)
    workers = profile.train.fold_workers if workers is None else workers
    threads = max(1, (os.cpu_count() or 1) // max(1, workers)) if workers > 1 else None
    jobs = [dict(fold_dir=str(out / f"fold_{s}"), name=s, train=[i for i in infos if i.subject != s],
                 test=[i for i in infos if i.subject == s], inputs=inputs, k=k, expression=expression,
                 train_cfg=cfg, model_name=model_name, threads=threads) for s in held_out]
    t0 = time.perf_counter()
    results = _map_folds(jobs, workers, scheduler_address, progress)
    scores = {key: s for r in results for key, s in r["scores"].items()}
    tested = [i for i in infos if i.key in scores]
    folds = [{k_: r[k_] for k_ in ("name", "train_seconds", "predict_seconds", "n_train", "n_train_positive",
                                     "n_test")} for r in results]
    manifest = run_manifest(protocol="MEGC 2021 LOSO", expression=expression, k=k, model=model_name,
                            profile=profile.to_dict(), subjects=held_out, all_subjects=all_subjects,
                            folds=folds, wall_seconds=time.perf_counter() - t0, workers=workers,
                            scheduler_address=scheduler_address)
    return write_score_set(out, tested, scores, k, name=name or f"{model_name} {expression}", manifest=manifest)


def run_megc2022(train_infos: Sequence[VideoInfo], train_features: Mapping[str, np.ndarray],
                 test_infos: Sequence[VideoInfo], test_features: Mapping[str, np.ndarray], *,
                 expression: str, k: int, profile, out_dir: str | os.PathLike,
                 model_name: str | None = None, progress: bool = True) -> ScoreSet:
    """MEGC 2022: train on all training videos, score the unseen test videos (no ground truth).

    Returns the test videos' score set (``gt.csv`` holds whatever ground truth ``test_infos``
    carry, usually none); spot it and write the submission with
    :func:`slswin_lib.scores.write_submission`.
    """
    model_name = model_name or profile.model.name
    out = Path(out_dir)
    feats = {**train_features, **test_features}
    inputs = _save_inputs(out, feats, [i.key for i in [*train_infos, *test_infos]])
    t0 = time.perf_counter()
    r = _train_and_score(str(out / "model"), "megc2022", list(train_infos), list(test_infos), inputs, k,
                         expression, _train_cfg(profile), model_name, None, progress)
    manifest = run_manifest(protocol="MEGC 2022", expression=expression, k=k, model=model_name,
                            profile=profile.to_dict(), train_videos=[i.key for i in train_infos],
                            wall_seconds=time.perf_counter() - t0)
    return write_score_set(out, test_infos, r["scores"], k, name=f"{model_name} {expression} MEGC 2022",
                           manifest=manifest)


def baseline_score_set(infos: Sequence[VideoInfo], features: Mapping[str, np.ndarray], *, expression: str,
                       k: int, out_dir: str | os.PathLike) -> ScoreSet:
    """The training-free baseline: each sample's score is its mean ROI optical-flow magnitude."""
    from ..features.preprocess import roi_flow_magnitude

    scores = {i.key: roi_flow_magnitude(features[i.key]).astype(np.float64) for i in infos}
    manifest = run_manifest(protocol="training-free baseline (mean ROI flow magnitude)",
                            expression=expression, k=k)
    return write_score_set(out_dir, infos, scores, k, name=f"baseline {expression}", manifest=manifest)
