"""What the protocols consume: one expression type's videos with their features.

An :class:`ExpressionSet` bundles, for one type (ME or MaE), the :class:`VideoInfo` of every
video of the type's set (paper Section 3.1: a video enters a type's set only if it holds an event
of that type), the frame distance ``k`` (Section 2.1: half the mean expression length) and the
per-video features, memory-mapped from the feature cache.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ..config import Profile, resolve_profile
from ..io import work_dir

__all__ = ["VideoInfo", "video_infos", "ExpressionSet", "expression_set", "open_dataset", "sized_profile",
           "sized_model_name", "check_input_size", "features_root"]


@dataclass(frozen=True)
class VideoInfo:
    """What the protocols need of one video of an expression type's set.

    Attributes:
        key: the video's key (``{subject}_{video_code}``), also its key in score sets.
        subject: the subject (the LOSO unit).
        video_code: the video's code within the subject.
        n_frames: frames of the video; it has ``n_frames - k`` samples.
        intervals: ground truth of this type, ``(onset, offset)`` 0-based and inclusive.
    """

    key: str
    subject: str
    video_code: str
    n_frames: int
    intervals: tuple[tuple[int, int], ...]


def video_infos(videos: Iterable, expression: str) -> list[VideoInfo]:
    """:class:`VideoInfo` of each data-set video (:mod:`slswin_lib.data` videos) for one type."""
    out = []
    for v in videos:
        ev = tuple((int(e.onset), int(e.offset)) for e in v.events if e.type == expression)
        out.append(VideoInfo(v.key, str(v.subject), str(v.video_id), int(v.n_frames), ev))
    return out


def open_dataset(profile: str | Profile, dataset: str = "synthetic", data_root: str | os.PathLike | None = None):
    """The data set of a run: the synthetic benchmark (built once per profile) or a licensed one.

    Args:
        profile: the profile (its ``data`` section sizes the synthetic benchmark).
        dataset: ``synthetic`` (default), ``casme2``, ``samm_lv``, ``megc2022_cas``, ``megc2022_samm``
            or ``video`` (see :func:`slswin_lib.data.load_dataset`).
        data_root: the data set's folder (required for all but ``synthetic``).
    """
    from ..data import load_dataset

    p = resolve_profile(profile)
    if dataset == "synthetic":
        return load_dataset("synthetic", data_root, profile=p)
    if data_root is None:
        raise ValueError(f"dataset {dataset!r} needs data_root, the folder of your copy of it")
    return load_dataset(dataset, data_root)


@dataclass
class ExpressionSet:
    """One expression type's videos with their features.

    Attributes:
        expression: ``"me"`` or ``"mae"``.
        k: the frame distance of the features (paper Section 2.1).
        infos: :class:`VideoInfo` of each video of the type's set.
        features: video key -> ``(n_frames - k, S, S, 3)`` float32 features (memory-mapped from
            the feature cache when extracted by :func:`expression_set`).
        dataset: the data set's name.
        files: video key -> the cached ``.npy`` file of its features, when there is one (fold
            workers memory-map these instead of receiving copies).
        source: the data set the videos come from (None when the set was built from arrays); needed
            to extract features at another k (``SpotConfig.k_from = "training_subjects"``).
    """

    expression: str
    k: int
    infos: list[VideoInfo]
    features: dict[str, np.ndarray]
    dataset: str
    files: dict[str, str] = field(default_factory=dict)
    source: Any = field(default=None, repr=False)

    @property
    def input_size(self) -> int:
        """S, the side of the model input."""
        return int(next(iter(self.features.values())).shape[1])

    @property
    def subjects(self) -> list[str]:
        """Subjects in first-seen order."""
        return list(dict.fromkeys(i.subject for i in self.infos))

    def fold_k(self, held_out: str, k_from: str) -> int:
        """The k of the LOSO fold that holds out subject ``held_out``.

        Args:
            k_from: ``"all_subjects"`` (the authors' code: this set's k, the test subject's annotations
                included) or ``"training_subjects"`` (the fold's training subjects only).
        """
        if k_from == "all_subjects":
            return self.k
        if self.source is None:
            raise ValueError("k from the training subjects needs the data set: build the set with expression_set()")
        return self.source.compute_k(self.expression, [s for s in self.subjects if s != held_out])

    def with_k(self, k: int, profile: Profile, progress: bool = True) -> "ExpressionSet":
        """The same videos with features at frame distance ``k`` (extracted and cached when missing),
        with the features settings of the resolved ``profile``."""
        if k == self.k:
            return self
        if self.source is None:
            raise ValueError("features at another k need the data set: build the set with expression_set()")
        return expression_set(self.source, self.expression, profile, k=k, progress=progress,
                              all_videos=True)

    def inputs(self) -> dict[str, np.ndarray | str]:
        """Per video, what a fold job needs to read its features: the cache file, else the array."""
        return {i.key: self.files.get(i.key, self.features[i.key]) for i in self.infos}


def features_root(profile: Profile):
    """The folder of a profile's feature cache (features, face tracks, landmarks of every video):
    ``work_dir(profile.name, "features")``."""
    return work_dir(profile.name, "features")


def expression_set(ds, expression: str, profile: str | Profile, *, k: int | None = None,
                   scheduler_address: str | None = None, progress: bool = True,
                   all_videos: bool = False) -> ExpressionSet:
    """Select the type's videos, compute k from their annotations, extract (or load) features.

    Args:
        ds: a :class:`slswin_lib.data.Dataset`.
        expression: ``"me"`` or ``"mae"``.
        profile: the profile whose ``features`` settings are used.
        k: override (e.g. the training set's k for a test set without ground truth).
        scheduler_address: a Dask scheduler for the feature extraction.
        all_videos: keep every video, not only those with an event of the type (test sets).
    """
    from ..features import extract_features

    p = resolve_profile(profile)
    sub = ds if all_videos else ds.select(expression)
    if not len(sub.videos):
        raise ValueError(f"{ds.name} has no video with a {expression} event")
    k = sub.compute_k(expression) if k is None else int(k)
    root = features_root(p)
    feats = extract_features(sub.videos, k, p.features, cache_root=root, scheduler_address=scheduler_address,
                             progress=progress)
    # the features are memory-mapped from their cache files: the fold workers map the same files
    files = {key: str(f.filename) for key, f in feats.items() if isinstance(f, np.memmap)}
    return ExpressionSet(expression, k, video_infos(sub.videos, expression), feats, ds.name, files, sub)


def sized_profile(profile: Profile, input_size: int) -> Profile:
    """The profile for a model input of ``input_size`` (42: the paper; 84: Table 6's doubled variant).

    The mosaic side is twice the ROI side, and the face crop scales with it (128 -> 256 px).
    """
    p = profile
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


def check_input_size(es: ExpressionSet, model_name: str) -> None:
    """Refuse a model whose input size differs from the features' (with the setting to change)."""
    from ..models import model_input_size

    want = model_input_size(model_name)
    if es.input_size != want:
        raise ValueError(f"{model_name} takes {want} x {want} inputs but the features are "
                         f"{es.input_size} x {es.input_size}; extract features with roi_size = {want // 2}")
