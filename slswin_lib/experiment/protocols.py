"""The MEGC protocols on one expression type (paper Section 3.1), each writing a score set.

* :func:`loso`: MEGC 2021 leave-one-subject-out: each fold trains on the other subjects' videos and
  scores the held-out subject's videos.
* :func:`ablation_loso`: :func:`loso` under the profile's ablation budget (Tables 4-6).
* :func:`train_all`: one model trained on every video of a set (no held-out subject); used by
  :func:`megc2022` and by the exported spotters (:mod:`slswin_lib.deploy`).
* :func:`megc2022`: MEGC 2022: train on one data set, score the unseen test videos (Table 1).
* :func:`baseline`: the training-free floor in the same harness (mean ROI flow magnitude).

Each protocol writes a *score set* (``scores.npz``, ``videos.csv``, ``gt.csv``, the format of the
authors' released predictions, :mod:`slswin_lib.scores`) plus ``manifest.json`` to its run folder
(:mod:`slswin_lib.experiment.runs`), so trained models are spotted and evaluated by the same code
as the released scores. Everything is resumable (:mod:`slswin_lib.experiment.folds`).

Every protocol takes the resolved :class:`~slswin_lib.config.Profile` (a notebook or command resolves
it once, :func:`~slswin_lib.config.resolve_profile`), not a profile name, and reads the model and the
labelling from it: a caller varies a run with ``profile.replace(model={"name": ...},
train={"labelling": ...})``.
"""
from __future__ import annotations

import os
import time
from pathlib import Path


from ..config import Profile, run_digest
from ..scores import ScoreSet, write_score_set
from ..timing import FOLD_PREPARATION, parallel
from .folds import FoldJob, FoldResult, map_folds, train_fold
from .runs import run_folder, run_manifest
from .sets import ExpressionSet, check_input_size

__all__ = ["loso", "ablation_loso", "train_all", "megc2022", "baseline", "run_tag"]


def _check_features(es: ExpressionSet) -> None:
    for i in es.infos:
        if i.key not in es.features:
            raise ValueError(f"no features for video {i.key}; extract them first")
        if len(es.features[i.key]) != i.n_frames - es.k:
            raise ValueError(f"video {i.key}: {len(es.features[i.key])} feature samples, expected "
                             f"n_frames - k = {i.n_frames - es.k}; were the features extracted with k = {es.k}?")


def run_tag(p: Profile, es: ExpressionSet, n_folds: int | None = None) -> str:
    """``<model>-<labelling>[-<n>folds]-<digest>``: the run folder name of a LOSO run of ``p.model``,
    the digest (:func:`~slswin_lib.config.run_digest`) covering the training, model and feature
    settings and k."""
    facts = {"train": p.train, "features": p.features, "model": p.model, "k": es.k}
    if p.spot.k_from != "all_subjects":
        facts["k_from"] = p.spot.k_from
    digest = run_digest(facts, length=8)
    folds = f"-{n_folds}folds" if n_folds is not None else ""
    return f"{p.model.name}-{p.train.labelling}{folds}-{digest}"


def _model_facts(p: Profile) -> dict:
    """The FoldJob fields that come from the profile's model and feature settings."""
    from ..models import model_kwargs

    return {"model_kwargs": model_kwargs(p.model.name, p.model), "signed_u": not p.features.abs_uv}


def _threads(workers: int) -> int | None:
    return max(1, (os.cpu_count() or 1) // max(1, workers)) if workers > 1 else None


def loso(es: ExpressionSet, profile: Profile, *, out_dir: str | os.PathLike | None = None,
         workers: int | None = None, scheduler_address: str | None = None, progress: bool = True) -> ScoreSet:
    """MEGC 2021 leave-one-subject-out of one model on one expression set; the held-out score set.

    Args:
        es: the expression set (:func:`~slswin_lib.experiment.expression_set`).
        profile: its ``model`` (which model, built how), ``train`` (recipe, budget and labelling,
            ``"pseudo"`` or ``"original"``, Table 5), ``features`` and ``spot.k_from`` are used.
        out_dir: the run folder; default ``runs/<dataset>/<run_tag>/<expression>``, so a changed
            setting never reuses stale folds.
        workers: parallel folds on a local Dask cluster (default ``profile.train.fold_workers``).
        scheduler_address: an existing Dask scheduler to send the folds to.
    """
    return _loso(es, profile, None, out_dir=out_dir, workers=workers, scheduler_address=scheduler_address,
                 progress=progress)


def _loso(es: ExpressionSet, p: Profile, n_folds: int | None, *, out_dir: str | os.PathLike | None = None,
          workers: int | None = None, scheduler_address: str | None = None, progress: bool = True,
          keep_checkpoints: bool = True) -> ScoreSet:
    """:func:`loso` on the first ``n_folds`` held-out subjects (``None``: all of them, the full LOSO);
    the subset is the ablation budget's ``folds`` (:func:`ablation_loso`), named in the run tag;
    ``keep_checkpoints`` off: each fold deletes its trained model once its scores are written."""
    model_name = p.model.name
    check_input_size(es, model_name)
    _check_features(es)
    all_subjects = es.subjects
    held_out = all_subjects if n_folds is None else all_subjects[:n_folds]
    if out_dir is None:
        out_dir = run_folder(p, es.dataset, run_tag(p, es, None if n_folds is None else len(held_out)),
                             es.expression)
    out = Path(out_dir)
    workers = p.train.fold_workers if workers is None else workers
    jobs = []
    for s in held_out:
        fold_set = es.with_k(es.fold_k(s, p.spot.k_from), p, progress)
        jobs.append(FoldJob(str(out / f"fold_{s}"), s, tuple(i for i in fold_set.infos if i.subject != s),
                            tuple(i for i in fold_set.infos if i.subject == s), fold_set.inputs(), fold_set.k,
                            es.expression, p.train, model_name, _threads(workers), **_model_facts(p),
                            keep_checkpoint=keep_checkpoints))
    t0 = time.perf_counter()
    results = map_folds(jobs, workers, scheduler_address, progress)
    scores = {key: s for r in results for key, s in r.scores.items()}
    k_of = {i.key: job.k for job in jobs for i in job.test}
    tested = [i for i in es.infos if i.key in scores]
    folds = [{"name": r.name, **{k_: r.record.get(k_) for k_ in ("prepare_seconds", "train_seconds", "val_seconds",
                                                                 "predict_seconds", "steps", "n_train",
                                                                 "n_train_positive", "n_test")}}
             for r in results]
    manifest = run_manifest(protocol="MEGC 2021 LOSO", expression=es.expression, k=es.k, k_from=p.spot.k_from,
                            fold_k={job.name: job.k for job in jobs}, model=model_name,
                            profile=p.to_dict(), subjects=held_out, all_subjects=all_subjects, folds=folds,
                            wall_seconds=time.perf_counter() - t0, workers=workers,
                            scheduler_address=scheduler_address)
    return write_score_set(out, tested, scores, k_of, name=f"{model_name} {es.expression}", manifest=manifest)


def ablation_loso(es: ExpressionSet, profile: Profile, *, scheduler_address: str | None = None,
                  progress: bool = True) -> ScoreSet:
    """LOSO under the profile's ablation budget (``profile.ablation``): the first ``folds`` held-out
    subjects, at most ``max_train_samples`` training samples and ``steps`` optimiser steps (the
    ``adamw`` recipe) per fold, the held-out loss every ``val_every`` steps (the paper profile: the
    full LOSO, identical to :func:`loso`).

    The tables read only the folds' scores, so each fold keeps its scores and record but not its
    trained model: Tables 4-6 and the fidelity ablation are a dozen runs or more, whose checkpoints
    would take several GB (the smoke profile's ViT-B rows alone ~1 GB)."""
    a = profile.ablation
    budget = {name: getattr(a, name) for name in ("max_train_samples", "steps", "val_every")
              if getattr(a, name) is not None}
    return _loso(es, profile.replace(train=budget), a.folds, scheduler_address=scheduler_address,
                 progress=progress, keep_checkpoints=False)


def train_all(es: ExpressionSet, profile: Profile, fold_dir: str | os.PathLike, *,
              test: ExpressionSet | None = None, progress: bool = True) -> FoldResult:
    """Train one model (``profile.model``) on every video of ``es`` (no held-out subject) and score
    ``test``'s videos.

    The model's checkpoint is ``fold_dir/checkpoint.pt``; its record says how it was trained. A
    finished run with the same settings is reused, an interrupted one resumes.
    """
    p = profile
    model_name = p.model.name
    check_input_size(es, model_name)
    _check_features(es)
    inputs = {**es.inputs(), **(test.inputs() if test is not None else {})}
    job = FoldJob(str(fold_dir), "all", tuple(es.infos), tuple(test.infos) if test is not None else (), inputs,
                  es.k, es.expression, p.train, model_name, **_model_facts(p))
    # in this process: its wall time split over the stages the fold reports, as for a worker's fold
    with parallel(FOLD_PREPARATION) as wait:
        result = train_fold(job, progress=progress)
        wait.add(result.seconds)
    return result


def megc2022(train: ExpressionSet, test: ExpressionSet, profile: Profile, *, out_dir: str | os.PathLike,
             progress: bool = True) -> ScoreSet:
    """MEGC 2022: train on all of ``train``, score the unseen ``test`` videos (usually no ground truth).

    ``test`` must be extracted with ``train``'s k (``expression_set(..., k=train.k, all_videos=True)``).
    Returns the test videos' score set; spot it and write the submission with
    :func:`slswin_lib.scores.submission_table` and :func:`slswin_lib.scores.write_submission`.
    """
    p = profile
    model_name = p.model.name
    if test.k != train.k:
        raise ValueError(f"the test set's features use k = {test.k} but the model is trained with k = {train.k}; "
                         "extract the test set with expression_set(..., k=train.k, all_videos=True)")
    out = Path(out_dir)
    t0 = time.perf_counter()
    result = train_all(train, p, out / "model", test=test, progress=progress)
    manifest = run_manifest(protocol="MEGC 2022", expression=train.expression, k=train.k, model=model_name,
                            profile=p.to_dict(), train_videos=[i.key for i in train.infos],
                            wall_seconds=time.perf_counter() - t0)
    return write_score_set(out, test.infos, result.scores, train.k,
                           name=f"{model_name} {train.expression} MEGC 2022", manifest=manifest)


def baseline(es: ExpressionSet, profile: Profile | None = None, *,
             out_dir: str | os.PathLike | None = None) -> ScoreSet:
    """The training-free baseline's score set: each sample's score is its mean ROI flow magnitude
    (:mod:`slswin_lib.trainfree.baseline`).

    Args:
        profile: names the run folder (``runs/<dataset>/baseline-flow-magnitude/<expression>``)
            when ``out_dir`` is not given, and says whose annotations give each fold's k
            (``profile.spot.k_from``; the scores of a subject use the k of the fold holding it out).
    """
    from ..trainfree.baseline import flow_magnitude_scores

    p = profile
    k_from = "all_subjects" if p is None else p.spot.k_from
    if out_dir is None:
        if p is None:
            raise ValueError("give the profile (for the run folder) or out_dir")
        tag = "baseline-flow-magnitude" + ("" if k_from == "all_subjects" else "-k_training_subjects")
        out_dir = run_folder(p, es.dataset, tag, es.expression)
    scores, k_of = {}, {}
    for subject in es.subjects:
        fold_set = es if k_from == "all_subjects" else es.with_k(es.fold_k(subject, k_from), p)
        for i in fold_set.infos:
            if i.subject == subject:
                scores[i.key] = flow_magnitude_scores(fold_set.features[i.key])
                k_of[i.key] = fold_set.k
    manifest = run_manifest(protocol="training-free baseline (mean ROI flow magnitude)",
                            expression=es.expression, k=es.k, k_from=k_from)
    return write_score_set(out_dir, es.infos, scores, k_of, name=f"baseline {es.expression}", manifest=manifest)
