"""Training arrays from per-video features: downsampling, ME augmentation, normalisation (paper Sec. 3.3)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..config import TrainConfig

__all__ = ["downsample_negatives", "cap_samples", "augment_positives", "training_arrays"]


def downsample_negatives(labels: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of all positive samples and a random ``keep`` fraction of the negatives.

    The paper keeps half the non-expression samples (``keep = 0.5``) when they outnumber the
    expression samples; otherwise nothing is dropped.
    """
    labels = np.asarray(labels)
    pos = np.flatnonzero(labels > 0)
    neg = np.flatnonzero(labels <= 0)
    if len(neg) <= len(pos) or keep >= 1:
        return np.arange(len(labels))
    chosen = rng.choice(neg, size=int(len(neg) * keep), replace=False)
    return np.sort(np.concatenate([pos, chosen]))


def cap_samples(y: np.ndarray, max_samples: int | None, rng: np.random.Generator) -> np.ndarray | None:
    """Sorted indices of a stratified subsample of at most ``max_samples`` of the pooled samples.

    Positives first (up to half the cap), the rest negatives; ``None`` when there is no cap or the
    samples fit under it (``TrainConfig.max_train_samples``, a CPU-budget knob; None in the paper
    profile). Both the in-memory arrays and the streamed training set draw through here.
    """
    if max_samples is None or len(y) <= max_samples:
        return None
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y <= 0)
    n_pos = min(len(pos), max_samples // 2)
    return np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                   rng.choice(neg, min(len(neg), max_samples - n_pos), replace=False)]))


#: value range of normalised samples (per-sample min-max) and of raw features for the augmentation
#: noise's clipping (the authors' ``skimage.util.random_noise`` clips signed images to [-1, 1])
NORMALISED_RANGE = (0.0, 1.0)
RAW_RANGE = (-1.0, 1.0)
#: channel of the horizontal flow u in a feature mosaic (u, v, |strain|)
U_CHANNEL = 0


def augment_positives(x: np.ndarray, rng: np.random.Generator, *, blur_ksize: int = 7,
                      noise_std: float = 0.1, signed_u: bool = False,
                      value_range: tuple[float, float] = NORMALISED_RANGE) -> np.ndarray:
    """Three augmented copies of each sample: horizontal flip, Gaussian blur, Gaussian noise.

    A mirrored face moves the other way, so with signed horizontal flow (``signed_u``) the flip
    also mirrors u about the centre of ``value_range``: ``-u`` for raw features, ``1 - u`` for
    min-max normalised ones (the normalisation of ``-u``). With ``abs(u)`` features the plain
    flip is already a possible flow field.

    Args:
        x: ``(N, S, S, 3)`` samples, min-max normalised per sample and channel
            (``value_range=(0, 1)``) or raw features (``value_range=(-1, 1)``).
        blur_ksize: side of the Gaussian blur kernel (paper: 7; sigma from the kernel size).
        noise_std: standard deviation of the additive noise, which is clipped to ``value_range``
            (the authors' ``skimage.util.random_noise`` default: variance 0.01, i.e. std 0.1).
        signed_u: channel 0 holds signed u (features without ``abs``).
        value_range: ``(low, high)`` of the samples; the noisy copies are clipped to it.

    Returns:
        ``(3N, S, S, 3)`` float32: all flips, then all blurs, then all noisy copies.
    """
    import cv2

    low, high = value_range
    x = np.asarray(x, np.float32)
    flipped = x[:, :, ::-1, :].copy()
    if signed_u:
        flipped[..., U_CHANNEL] = (low + high) - flipped[..., U_CHANNEL]
    blurred = np.stack([cv2.GaussianBlur(s, (blur_ksize, blur_ksize), 0) for s in x]) if len(x) else x
    noisy = np.clip(x + rng.normal(0.0, noise_std, size=x.shape).astype(np.float32), low, high)
    return np.concatenate([flipped, blurred, noisy]).astype(np.float32)


def training_arrays(features: Sequence[np.ndarray], labels: Sequence[np.ndarray], cfg: TrainConfig, *,
                    augment: bool, signed_u: bool, rng: np.random.Generator,
                    groups: Sequence | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pool the training videos into model inputs, targets and per-sample groups.

    Steps (Sec. 3.3 of the paper): per video, keep all positives and ``cfg.keep_negatives`` of the
    negatives; pool; optionally subsample to ``cfg.max_train_samples`` (stratified, positives
    first: a budget knob of the quick profiles, None in the paper profile); when ``augment`` (ME
    training), append three augmented copies of each positive (:func:`augment_positives`), after
    the per-sample min-max normalisation (``cfg.augment_stage="normalised"``) or on the raw
    features followed by the normalisation (``"raw"``, the authors' code).

    Args:
        features: per video ``(n_i, S, S, 3)`` raw features.
        labels: per video ``(n_i,)`` 0/1 labels.
        cfg: ``keep_negatives``, ``max_train_samples``, ``blur_ksize``, ``noise_std``,
            ``augment_stage`` are read.
        augment: add the augmented copies of the positives.
        signed_u: the features hold signed u (``FeatureConfig.abs_uv`` off): the flip negates u.
        rng: draws the kept negatives, the subsample and the noise.
        groups: per video a group id (e.g. its subject); default the video's index.

    Returns:
        ``X`` ``(N, 3, S, S)`` float32 in [0, 1], ``y`` ``(N,)`` float32 and ``groups`` ``(N,)``
        (each sample's video group; augmented copies keep their source's group).

    Raises:
        ValueError: a video's features and labels differ in length, or ``groups`` has another
            length than ``features``.
    """
    from ..features.preprocess import minmax_normalise

    video_groups = list(range(len(features))) if groups is None else list(groups)
    if len(video_groups) != len(features):
        raise ValueError(f"{len(video_groups)} groups for {len(features)} videos; give one group per video")
    xs, ys, gs = [], [], []
    for f, lab, g in zip(features, labels, video_groups):
        if len(f) != len(lab):
            raise ValueError(f"{len(f)} feature samples but {len(lab)} labels")
        idx = downsample_negatives(lab, cfg.keep_negatives, rng)
        xs.append(f[idx])
        ys.append(lab[idx])
        gs.append(np.full(len(idx), g, dtype=np.asarray(video_groups).dtype))
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.float32)
    g = np.concatenate(gs)
    idx = cap_samples(y, cfg.max_train_samples, rng)
    if idx is not None:
        x, y, g = x[idx], y[idx], g[idx]
    raw_stage = cfg.augment_stage == "raw"
    if not raw_stage:
        x = minmax_normalise(x)
    if augment and np.any(y > 0):
        pos = y > 0
        value_range = RAW_RANGE if raw_stage else NORMALISED_RANGE
        x = np.concatenate([x, augment_positives(x[pos], rng, blur_ksize=cfg.blur_ksize, noise_std=cfg.noise_std,
                                                 signed_u=signed_u, value_range=value_range)])
        y = np.concatenate([y, np.ones(3 * int(pos.sum()), np.float32)])
        g = np.concatenate([g, np.tile(g[pos], 3)])
    if raw_stage:
        x = minmax_normalise(x)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y, g
