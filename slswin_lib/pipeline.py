"""The paper's pipeline as a few build-or-load calls shared by the notebooks.

Every call caches its products under ``work_dir(profile)`` (features per video, LOSO folds,
score sets), so a notebook that repeats an earlier notebook's call gets the stored result at
once, and an interrupted run resumes where it stopped.

>>> ds = open_dataset("smoke")                                     # doctest: +SKIP
>>> me = expression_set(ds, "me", "smoke")                          # doctest: +SKIP
>>> scores = loso(me, "smoke")                                      # doctest: +SKIP
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import Profile, get_profile
from .io import work_dir
from .scores import ScoreSet

__all__ = ["open_dataset", "ExpressionSet", "expression_set", "loso", "baseline", "run_folder",
           "resolve_profile", "ablation_loso", "sized_profile", "sized_model_name", "read_folds"]


def resolve_profile(profile: str | Profile) -> Profile:
    return get_profile(profile) if isinstance(profile, str) else profile


def open_dataset(profile: str | Profile, dataset: str = "synthetic", data_root: str | os.PathLike | None = None):
    """The data set of a run: the synthetic benchmark (built once per profile) or a licensed one.

    Args:
        dataset: ``synthetic`` (default), ``casme2``, ``samm_lv``, ``megc2022_cas``, ``megc2022_samm``
            or ``video`` (see :func:`slswin_lib.data.load_dataset`).
        data_root: the data set's folder (required for all but ``synthetic``).
    """
    from .data import load_dataset

    p = resolve_profile(profile)
    if dataset == "synthetic":
        return load_dataset("synthetic", data_root, profile=p)
    if data_root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root, the folder of your copy of it")
    return load_dataset(dataset, data_root)


@dataclass
class ExpressionSet:
    """One expression type's videos with their features (what the protocols consume).

    Attributes:
        expression: ``"me"`` or ``"mae"``.
        k: the frame distance of the features (SPEC 2.1).
        infos: :class:`~slswin_lib.training.protocols.VideoInfo` of each video of the type's set.
        features: video key -> ``(n_frames - k, S, S, 3)`` float32 features.
        dataset: the data set's name; ``input_size`` is S.
    """

    expression: str
    k: int
    infos: list
    features: dict[str, np.ndarray]
    dataset: str

    @property
    def input_size(self) -> int:
        return int(next(iter(self.features.values())).shape[1])

    @property
    def subjects(self) -> list[str]:
        return list(dict.fromkeys(i.subject for i in self.infos))


def expression_set(ds, expression: str, profile: str | Profile, *, k: int | None = None,
                   scheduler_address: str | None = None, progress: bool = True,
                   all_videos: bool = False) -> ExpressionSet:
    """Select the type's videos (SPEC 4), compute k from their annotations, extract features.

    Args:
        k: override (e.g. the training set's k for a test set without ground truth).
        all_videos: keep every video, not only those with an event of the type (test sets).
    """
    from .features import extract_features
    from .training.protocols import video_infos

    p = resolve_profile(profile)
    sub = ds if all_videos else ds.select(expression)
    if not len(sub.videos):
        raise ValueError(f"{ds.name} has no video with a {expression} event")
    k = sub.compute_k(expression) if k is None else int(k)
    feats = extract_features(sub.videos, k, p.features, cache_root=work_dir(p.name, "features"),
                             scheduler_address=scheduler_address, progress=progress)
    return ExpressionSet(expression, k, video_infos(sub.videos, expression), feats, ds.name)


def run_folder(profile: str | Profile, dataset: str, *parts: str) -> Path:
    """``work_dir(profile)/runs/<dataset>/<parts...>``."""
    return work_dir(resolve_profile(profile).name, "runs", dataset, *parts)


def _check_size(es: ExpressionSet, model_name: str) -> None:
    from .models import model_input_size

    want = model_input_size(model_name)
    if es.input_size != want:
        raise ValueError(f"{model_name} takes {want} x {want} inputs but the features are "
                         f"{es.input_size} x {es.input_size}; extract features with roi_size = {want // 2}")


def _settings_hash(p: Profile, es: ExpressionSet) -> str:
    import dataclasses
    import hashlib
    import json

    facts = {"train": dataclasses.asdict(p.train), "features": dataclasses.asdict(p.features),
             "model": dataclasses.asdict(p.model), "k": es.k}
    for key in ("fold_workers", "device", "predict_batch_size"):
        facts["train"].pop(key, None)
    return hashlib.sha256(json.dumps(facts, sort_keys=True, default=str).encode()).hexdigest()[:8]


def ablation_loso(es: ExpressionSet, profile: str | Profile, *, model_name: str, labelling: str | None = None,
                  scheduler_address: str | None = None, progress: bool = True) -> ScoreSet:
    """LOSO under the profile's ablation budget (``profile.ablation``): the first ``folds`` held-out
    subjects and at most ``max_train_samples`` training samples per fold (the paper profile: the full
    LOSO, identical to :func:`loso`)."""
    p = resolve_profile(profile)
    a = p.ablation
    if a.max_train_samples is not None:
        p = p.replace(train={"max_train_samples": a.max_train_samples})
    subjects = None if a.folds is None else es.subjects[:a.folds]
    return loso(es, p, model_name=model_name, labelling=labelling, subjects=subjects,
                scheduler_address=scheduler_address, progress=progress)


def loso(es: ExpressionSet, profile: str | Profile, *, model_name: str | None = None,
         labelling: str | None = None, subjects: Sequence[str] | None = None, tag: str | None = None,
         workers: int | None = None, scheduler_address: str | None = None, progress: bool = True) -> ScoreSet:
    """MEGC 2021 LOSO of one model on one expression set (resumable; see ``training.protocols``).

    The run folder is ``runs/<dataset>/<tag>/<expression>``, the tag defaulting to
    ``<model>-<labelling>`` (plus ``-<n>folds`` when only some subjects are held out) and a short
    hash of the training and feature settings, so a changed setting never reuses stale folds.
    """
    from .training.protocols import run_loso

    p = resolve_profile(profile)
    model_name = model_name or p.model.name
    labelling = labelling or p.train.labelling
    if labelling != p.train.labelling:
        p = p.replace(train={"labelling": labelling})
    _check_size(es, model_name)
    if tag is None:
        tag = f"{model_name}-{labelling}" + (f"-{len(subjects)}folds" if subjects is not None else "")
        tag += "-" + _settings_hash(p, es)
    out = run_folder(p, es.dataset, tag, es.expression)
    return run_loso(es.infos, es.features, expression=es.expression, k=es.k, profile=p, out_dir=out,
                    model_name=model_name, subjects=subjects, workers=workers,
                    scheduler_address=scheduler_address, progress=progress,
                    name=f"{model_name} {es.expression}")


def baseline(es: ExpressionSet, profile: str | Profile) -> ScoreSet:
    """The training-free baseline's score set (mean ROI flow magnitude)."""
    from .training.protocols import baseline_score_set

    out = run_folder(profile, es.dataset, "baseline-flow-magnitude", es.expression)
    return baseline_score_set(es.infos, es.features, expression=es.expression, k=es.k, out_dir=out)


def sized_profile(profile: str | Profile, input_size: int) -> Profile:
    """The profile for a model input of ``input_size`` (42: the paper; 84: Table 6's doubled variant).

    The mosaic side is twice the ROI side, and the face crop scales with it (128 -> 256 px).
    """
    p = resolve_profile(profile)
    if input_size % 2:
        raise ValueError(f"input_size must be even (two ROIs side by side), got {input_size}")
    base = p.features
    roi = input_size // 2
    face = int(round(base.face_size * roi / base.roi_size))
    return p.replace(features={"roi_size": roi, "face_size": face})


def sized_model_name(name: str, input_size: int) -> str:
    """``sl_swin_tiny_patch6_window7_42`` -> ``..._84`` (registered names end in the input size)."""
    stem, _, size = name.rpartition("_")
    if not size.isdigit():
        raise ValueError(f"model name {name!r} does not end in its input size")
    return f"{stem}_{input_size}"


def read_folds(run_dir: str | os.PathLike):
    """Per-fold facts of a LOSO run folder: training size, seconds, losses per epoch.

    Returns a DataFrame with one row per fold (fold, n_train, n_train_positive, n_test,
    train_seconds, predict_seconds, epochs, final_loss) and a dict fold -> list of epoch losses.
    """
    import json

    import pandas as pd

    rows, losses = [], {}
    for path in sorted(Path(run_dir).glob("fold_*/fold.json")):
        info = json.loads(path.read_text())
        fold = path.parent.name.removeprefix("fold_")
        losses[fold] = info["history"]["loss"]
        rows.append({"fold": fold, "n_train": info["n_train"], "n_train_positive": info["n_train_positive"],
                     "n_test": info["n_test"], "train_seconds": info["train_seconds"],
                     "predict_seconds": info["predict_seconds"], "epochs": len(losses[fold]),
                     "final_loss": losses[fold][-1] if losses[fold] else float("nan")})
    return pd.DataFrame(rows), losses
