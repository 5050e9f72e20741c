"""Streamed training samples: a fold's training set as (video, sample) indices over memory-mapped features.

:func:`training_samples` draws exactly what :func:`~slswin_lib.training.samples.training_arrays`
draws (the kept negatives, the optional cap, the ME augmentation noise), from the same generator
in the same order, but keeps only indices: a sample is read from its video's feature file,
min-max normalised and augmented when its batch is drawn. The noise of an augmented copy is
replayed from the generator state recorded before its draw, so a streamed batch equals the same
rows of the array ``training_arrays`` returns, bit for bit, and the generator ends in the same
state. Preparing a fold therefore costs memory for indices (a few tens of bytes a sample, plus one
generator state per ME positive), not for copies of the samples.

:class:`TrainingSamples` is a torch ``Dataset`` whose ``__getitems__`` reads a whole batch; it
works with a ``DataLoader`` over batches of indices (:func:`batch_loader`), loader workers and
pinned memory included, since every batch is a pure function of its indices.
"""
from __future__ import annotations

import os
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
import torch

from ..config import TrainConfig
from .samples import NORMALISED_RANGE, RAW_RANGE, U_CHANNEL, cap_samples, downsample_negatives

__all__ = ["FeatureFileError", "TrainingSamples", "training_samples", "batch_loader", "loader_workers",
           "open_features", "CUDA_LOADER_WORKERS", "PLAIN", "FLIP", "BLUR", "NOISE"]

#: kinds of a streamed sample: the kept sample itself or one of its three augmented copies
PLAIN, FLIP, BLUR, NOISE = 0, 1, 2, 3
#: channels of a feature mosaic (u, v, |strain|) and its dtype in the feature cache
FEATURE_CHANNELS = 3
FEATURE_DTYPE = np.dtype(np.float32)
#: loader processes on a GPU when ``TrainConfig.loader_workers`` is None: reading, normalising and
#: augmenting a batch of 48 takes a few ms on one core, a training step of SL-Swin-T on a GPU about as
#: long, so a few processes keep the device fed (``python -m slswin_lib gpu-check`` measures 0 against this)
CUDA_LOADER_WORKERS = 4


class FeatureFileError(ValueError):
    """A feature file cannot be used (unreadable, truncated, wrong shape or dtype)."""


def _name(source: Any, fallback: str) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else fallback


def open_features(source: Any, n_samples: int | None = None, *, name: str = "features") -> np.ndarray:
    """A video's ``(n, S, S, 3)`` float32 features, memory-mapped when ``source`` is a file.

    Args:
        source: a ``.npy`` file of the feature cache or an array.
        n_samples: the expected ``n`` (``n_frames - k``); None: not checked.
        name: what to call an in-memory array in an error.

    Raises:
        FeatureFileError: the file is unreadable or truncated, or the array has another shape or
            dtype; the message names the file and the fix.
    """
    label = _name(source, name)
    fix = "delete it so that the feature extraction writes it again" if isinstance(source, (str, os.PathLike)) \
        else "pass (n_frames - k, S, S, 3) float32 features"
    if isinstance(source, (str, os.PathLike)):
        try:
            feats = np.load(source, mmap_mode="r")
        except (ValueError, OSError, EOFError) as err:
            raise FeatureFileError(f"{label}: cannot memory-map the feature file ({err}); it is truncated or "
                                   f"not a .npy array: {fix}") from err
    else:
        feats = source
    shape = tuple(getattr(feats, "shape", ()))
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != FEATURE_CHANNELS:
        raise FeatureFileError(f"{label}: features of shape {shape}, expected (n, S, S, {FEATURE_CHANNELS}); {fix}")
    if np.dtype(feats.dtype) != FEATURE_DTYPE:
        raise FeatureFileError(f"{label}: features of dtype {feats.dtype}, expected {FEATURE_DTYPE}; {fix}")
    if n_samples is not None and shape[0] != n_samples:
        raise FeatureFileError(f"{label}: {shape[0]} feature samples, expected {n_samples} (n_frames - k); {fix}")
    return feats


class _MappedFile(NamedTuple):
    """A memory-mapped ``.npy`` in a pickle: its path."""

    path: str


class TrainingSamples(torch.utils.data.Dataset):
    """Training samples read from per-video features when drawn.

    Sample ``i`` is frame pair ``frame[i]`` of video ``video[i]``, as is (``kind`` :data:`PLAIN`)
    or as one of its augmented copies (:data:`FLIP`, :data:`BLUR`, :data:`NOISE`; paper Sec. 3.3).

    Args:
        features: per video ``(n_v, S, S, 3)`` float32 features (memory-mapped or in memory).
        video: ``(N,)`` video index of each sample; ``frame``: ``(N,)`` its row in that video.
        kind: ``(N,)`` :data:`PLAIN` / :data:`FLIP` / :data:`BLUR` / :data:`NOISE`.
        noise: ``(N,)`` index into ``noise_states`` of a :data:`NOISE` sample (-1 otherwise).
        noise_states: generator states (``bit_generator.state``) to draw each noise from.
        y: ``(N,)`` float32 targets; ``groups``: ``(N,)`` each sample's video group.
        augment_stage, blur_ksize, noise_std, signed_u: as in ``training_arrays``.
        names: per video a name for errors (its feature file).

    Raises:
        IndexError: a sample's row lies outside its video's features (the error names the file).
    """

    def __init__(self, features: Sequence[np.ndarray], video: np.ndarray, frame: np.ndarray, kind: np.ndarray,
                 noise: np.ndarray, noise_states: Sequence[dict], y: np.ndarray, groups: np.ndarray, *,
                 augment_stage: str = "normalised", blur_ksize: int = 7, noise_std: float = 0.1,
                 signed_u: bool = False, names: Sequence[str] | None = None) -> None:
        self.features = list(features)
        self.names = list(names) if names is not None else [f"video {v}" for v in range(len(self.features))]
        self.video, self.frame = np.asarray(video, np.int32), np.asarray(frame, np.int64)
        self.kind, self.noise = np.asarray(kind, np.int8), np.asarray(noise, np.int64)
        self.noise_states = list(noise_states)
        self.y, self.groups = np.asarray(y, np.float32), np.asarray(groups)
        self.augment_stage, self.blur_ksize, self.noise_std = augment_stage, blur_ksize, noise_std
        self.signed_u = signed_u
        n = len(self.y)
        if not all(len(a) == n for a in (self.video, self.frame, self.kind, self.noise, self.groups)):
            raise ValueError("video, frame, kind, noise, y and groups must have one entry per sample")
        for v, feats in enumerate(self.features):
            rows = self.frame[self.video == v]
            if len(rows) and (rows.min() < 0 or rows.max() >= len(feats)):
                raise IndexError(f"{self.names[v]}: sample row {int(rows.max() if rows.max() >= len(feats) else rows.min())} "
                                 f"outside its {len(feats)} feature samples; the features do not match the "
                                 "labels (delete the file so that it is extracted again)")
        side = self.features[0].shape[1] if self.features else 0
        self.shape = (n, FEATURE_CHANNELS, side, side)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def nbytes(self) -> int:
        """Bytes the samples take as float32 model input (what ``training_arrays`` would allocate)."""
        return int(np.prod(self.shape)) * FEATURE_DTYPE.itemsize

    def batch(self, indices: np.ndarray) -> np.ndarray:
        """Samples ``indices`` as ``(B, 3, S, S)`` contiguous float32 model input in [0, 1]."""
        from ..features.preprocess import minmax_normalise

        indices = np.asarray(indices, np.int64)
        if len(indices) and (indices.min() < 0 or indices.max() >= len(self)):
            raise IndexError(f"sample index {int(indices.max())} out of range for {len(self)} training samples")
        video, frame, kind = self.video[indices], self.frame[indices], self.kind[indices]
        x = np.empty((len(indices), *self.shape[2:], FEATURE_CHANNELS), np.float32)
        for v in np.unique(video):
            sel = np.flatnonzero(video == v)
            x[sel] = self.features[v][frame[sel]]
        raw_stage = self.augment_stage == "raw"
        if not raw_stage:
            x = minmax_normalise(x)
        low, high = RAW_RANGE if raw_stage else NORMALISED_RANGE
        for i in np.flatnonzero(kind != PLAIN):
            x[i] = self._augment(x[i], int(kind[i]), int(self.noise[indices[i]]), low, high)
        if raw_stage:
            x = minmax_normalise(x)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    def _augment(self, s: np.ndarray, kind: int, noise: int, low: float, high: float) -> np.ndarray:
        """One augmented copy of ``(S, S, 3)`` sample ``s`` (as ``augment_positives`` makes it)."""
        import cv2

        if kind == FLIP:
            out = s[:, ::-1, :].copy()
            if self.signed_u:
                out[..., U_CHANNEL] = (low + high) - out[..., U_CHANNEL]
            return out
        if kind == BLUR:
            return cv2.GaussianBlur(s, (self.blur_ksize, self.blur_ksize), 0)
        state = self.noise_states[noise]
        rng = np.random.Generator(getattr(np.random, state["bit_generator"])())
        rng.bit_generator.state = state
        return np.clip(s + rng.normal(0.0, self.noise_std, size=s.shape).astype(np.float32), low, high)

    def __getstate__(self) -> dict:
        """Pickled (e.g. for loader workers started by spawn) with memory maps as their files,
        re-opened on unpickling, so that no feature data is copied."""
        state = dict(self.__dict__)
        state["features"] = [_MappedFile(f.filename) if isinstance(f, np.memmap) and f.filename else f
                             for f in self.features]
        return state

    def __setstate__(self, state: dict) -> None:
        state["features"] = [np.load(f.path, mmap_mode="r") if isinstance(f, _MappedFile) else f
                             for f in state["features"]]
        self.__dict__.update(state)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x, y = self.__getitems__([i])
        return x[0], y[0]

    def __getitems__(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """A whole batch: ``(B, 3, S, S)`` float32 inputs and ``(B, 1)`` float32 targets."""
        idx = np.asarray(indices, np.int64)
        return torch.from_numpy(self.batch(idx)), torch.from_numpy(self.y[idx].copy()).view(-1, 1)


def _whole_batch(batch):
    """``collate_fn`` of :func:`batch_loader`: ``__getitems__`` already returns the batch."""
    return batch


def loader_workers(setting: int | None, device_type: str) -> int:
    """Loader processes for :func:`batch_loader`: ``setting`` (``TrainConfig.loader_workers``), or when
    None 0 on the CPU (reading in the training process costs no copy between processes, and the
    cores train) and :data:`CUDA_LOADER_WORKERS` on a GPU.

    >>> loader_workers(None, "cpu"), loader_workers(None, "cuda") == CUDA_LOADER_WORKERS, loader_workers(2, "cpu")
    (0, True, 2)
    """
    if setting is None:
        return CUDA_LOADER_WORKERS if device_type == "cuda" else 0
    return max(0, int(setting))


class _IndexLists:
    """The ``batch_sampler`` of :func:`batch_loader`: index lists, drawn lazily from any iterable."""

    def __init__(self, batches: Iterable[np.ndarray]) -> None:
        self.batches = batches

    def __iter__(self):
        return (list(map(int, b)) for b in self.batches)


def batch_loader(samples: TrainingSamples, batches: Iterable[np.ndarray], *, workers: int | None = 0,
                 pin_memory: bool = False):
    """Iterate ``(x, y)`` tensors of ``batches`` (index arrays; any iterable, read as the loader goes)
    in order.

    Args:
        workers: loader processes reading ahead (0: read in this process; None: :func:`loader_workers`
            for a GPU when ``pin_memory``, else for the CPU).
        pin_memory: batches in page-locked memory, for asynchronous copies to a GPU
            (``tensor.to("cuda", non_blocking=True)``).

    The loader draws its workers' seeds from a generator of its own, never from torch's global
    generator, so a run's other random draws (e.g. drop-path) are the same with and without it.
    """
    workers = loader_workers(workers, "cuda" if pin_memory else "cpu")
    if workers == 0 and not pin_memory:
        return (samples.__getitems__(b) for b in batches)
    return iter(torch.utils.data.DataLoader(samples, batch_sampler=_IndexLists(batches), num_workers=workers,
                                            pin_memory=pin_memory, collate_fn=_whole_batch,
                                            generator=torch.Generator()))


def training_samples(features: Sequence[Any], labels: Sequence[np.ndarray], cfg: TrainConfig, *, augment: bool,
                     signed_u: bool, rng: np.random.Generator, groups: Sequence | None = None,
                     names: Sequence[str] | None = None) -> TrainingSamples:
    """The training set of :func:`~slswin_lib.training.samples.training_arrays` as streamed samples.

    The draws, their order and the samples' order are those of ``training_arrays``: per video all
    positives and ``cfg.keep_negatives`` of the negatives; the optional ``cfg.max_train_samples``
    cap; with ``augment``, three copies (flips, blurs, noisy) of each positive, after
    (``cfg.augment_stage="normalised"``) or before (``"raw"``) the min-max normalisation. So
    ``training_samples(...).batch(np.arange(N))`` equals ``training_arrays(...)[0]``.

    Args:
        features: per video ``(n_i, S, S, 3)`` float32 features: arrays, memory maps or ``.npy``
            files (memory-mapped here).
        labels: per video ``(n_i,)`` 0/1 labels.
        cfg, augment, signed_u, rng, groups: as in ``training_arrays``.
        names: per video a name for errors (default: its file, else its index).

    Raises:
        FeatureFileError: a feature file is unreadable, truncated, or of another shape or dtype.
        ValueError: features and labels differ in length, or ``groups`` has another length.
    """
    names = list(names) if names is not None else [_name(f, f"video {v}") for v, f in enumerate(features)]
    video_groups = list(range(len(features))) if groups is None else list(groups)
    if len(video_groups) != len(features):
        raise ValueError(f"{len(video_groups)} groups for {len(features)} videos; give one group per video")
    feats = [open_features(f, len(lab), name=n) for f, lab, n in zip(features, labels, names)]
    if len({f.shape[1:] for f in feats}) > 1:
        raise FeatureFileError("the training videos' features differ in sample shape: "
                               + ", ".join(f"{n}: {f.shape[1:]}" for n, f in zip(names, feats)))
    group_dtype = np.asarray(video_groups).dtype
    vs, fs, ys, gs = [], [], [], []
    for v, (lab, g) in enumerate(zip(labels, video_groups)):
        lab = np.asarray(lab)
        idx = downsample_negatives(lab, cfg.keep_negatives, rng)
        vs.append(np.full(len(idx), v, np.int32))
        fs.append(idx)
        ys.append(lab[idx])
        gs.append(np.full(len(idx), g, dtype=group_dtype))
    video, frame = np.concatenate(vs), np.concatenate(fs)
    y, g = np.concatenate(ys).astype(np.float32), np.concatenate(gs)
    idx = cap_samples(y, cfg.max_train_samples, rng)
    if idx is not None:
        video, frame, y, g = video[idx], frame[idx], y[idx], g[idx]
    kind = np.full(len(y), PLAIN, np.int8)
    noise = np.full(len(y), -1, np.int64)
    states: list[dict] = []
    if augment and np.any(y > 0):
        pos = np.flatnonzero(y > 0)
        sample_shape = feats[0].shape[1:]
        for _ in pos:  # the noise of each positive in turn, as one draw of all of them would take it
            states.append(rng.bit_generator.state)
            rng.standard_normal(size=sample_shape)
        n = len(pos)
        video = np.concatenate([video, np.tile(video[pos], 3)])
        frame = np.concatenate([frame, np.tile(frame[pos], 3)])
        kind = np.concatenate([kind, np.repeat(np.array([FLIP, BLUR, NOISE], np.int8), n)])
        noise = np.concatenate([noise, np.full(2 * n, -1, np.int64), np.arange(n)])
        y = np.concatenate([y, np.ones(3 * n, np.float32)])
        g = np.concatenate([g, np.tile(g[pos], 3)])
    return TrainingSamples(feats, video, frame, kind, noise, states, y, g, augment_stage=cfg.augment_stage,
                           blur_ksize=cfg.blur_ksize, noise_std=cfg.noise_std, signed_u=signed_u, names=names)
