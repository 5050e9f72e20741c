"""Training arrays from per-video features: downsampling, ME augmentation, normalisation (SPEC 3)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["downsample_negatives", "augment_positives", "to_model_input", "training_arrays"]


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


def augment_positives(x: np.ndarray, rng: np.random.Generator, *, blur_ksize: int = 7,
                      noise_std: float = 0.1) -> np.ndarray:
    """Three augmented copies of each sample: horizontal flip, Gaussian blur, Gaussian noise.

    Args:
        x: ``(N, S, S, 3)`` samples, min-max normalised to [0, 1] per sample and channel.
        blur_ksize: side of the Gaussian blur kernel (paper: 7; sigma from the kernel size).
        noise_std: standard deviation of the additive noise in normalised units, clipped to [0, 1]
            (the authors' ``skimage.util.random_noise`` default: variance 0.01).

    Returns:
        ``(3N, S, S, 3)``: all flips, then all blurs, then all noisy copies.
    """
    import cv2

    x = np.asarray(x, np.float32)
    flipped = x[:, :, ::-1, :]
    blurred = np.stack([cv2.GaussianBlur(s, (blur_ksize, blur_ksize), 0) for s in x]) if len(x) else x
    noisy = np.clip(x + rng.normal(0.0, noise_std, size=x.shape).astype(np.float32), 0.0, 1.0)
    return np.concatenate([flipped, blurred, noisy]).astype(np.float32)


def to_model_input(x: np.ndarray) -> np.ndarray:
    """``(N, S, S, 3)`` features -> ``(N, 3, S, S)`` contiguous float32, min-max normalised."""
    from ..features.preprocess import minmax_normalise

    return np.ascontiguousarray(minmax_normalise(x).transpose(0, 3, 1, 2))


def training_arrays(features: Sequence[np.ndarray], labels: Sequence[np.ndarray], *, keep_negatives: float,
                    augment: bool, rng: np.random.Generator, blur_ksize: int = 7, noise_std: float = 0.1,
                    max_samples: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pool the training videos into model inputs and targets.

    Steps (SPEC 3): per video, keep all positives and ``keep_negatives`` of the negatives; pool;
    optionally subsample to ``max_samples`` (stratified, positives first: a budget knob of the
    quick profiles, None in the paper profile); normalise; append three augmented copies of each
    positive when ``augment`` (ME training).

    Returns:
        ``X`` ``(N, 3, S, S)`` float32 in [0, 1] and ``y`` ``(N,)`` float32.
    """
    xs, ys = [], []
    for f, lab in zip(features, labels):
        if len(f) != len(lab):
            raise ValueError(f"{len(f)} feature samples but {len(lab)} labels")
        idx = downsample_negatives(lab, keep_negatives, rng)
        xs.append(f[idx])
        ys.append(lab[idx])
    x = np.concatenate(xs).astype(np.float32)
    y = np.concatenate(ys).astype(np.float32)
    if max_samples is not None and len(y) > max_samples:
        pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y <= 0)
        n_pos = min(len(pos), max_samples // 2)
        idx = np.sort(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                      rng.choice(neg, min(len(neg), max_samples - n_pos), replace=False)]))
        x, y = x[idx], y[idx]
    from ..features.preprocess import minmax_normalise

    x = minmax_normalise(x)
    if augment and np.any(y > 0):
        pos = x[y > 0]
        x = np.concatenate([x, augment_positives(pos, rng, blur_ksize=blur_ksize, noise_std=noise_std)])
        y = np.concatenate([y, np.ones(3 * len(pos), np.float32)])
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2)), y
