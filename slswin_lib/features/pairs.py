"""Frame pairs (stage B of the feature extraction, paper Sections 2.1-2.2): for every pair (i, i + k)
of face crops, flow, strain, head-motion removal, eye masks and the ROI mosaic.
"""
from __future__ import annotations

import os

import numpy as np

from ..config import FeatureConfig
from ..timing import FLOW, ROI_FEATURES, timed
from .flow import FlowComputer, optical_strain
from .preprocess import config_sizes, preprocess_sample
from .tracking import FaceTrack, FeatureError, check_length, track_face

__all__ = ["DEVICE_FLOWS", "flow_computer", "raw_features", "pair_flows", "flow_features", "pair_features",
           "extract_video"]


_FLOWS: dict[tuple, FlowComputer] = {}

#: flow methods that run batched on a torch device: the pool's main process computes their flow
#: chunk by chunk on ``cfg.flow_device``; the workers do landmarks, crops and preprocessing
DEVICE_FLOWS = ("tvl1_torch",)


def flow_computer(cfg: FeatureConfig) -> FlowComputer:
    """The flow estimator of ``cfg`` (one per process and setting); refuses an unknown parameter or device."""
    key = (cfg.flow, tuple(cfg.flow_params), cfg.flow_device, cfg.flow_batch, cfg.flow_compile)
    if key not in _FLOWS:
        try:
            _FLOWS[key] = FlowComputer(cfg.flow, dict(cfg.flow_params), device=cfg.flow_device,
                                       batch=cfg.flow_batch, compile=cfg.flow_compile)
        except ValueError as err:
            raise FeatureError(f"FeatureConfig (flow={cfg.flow!r}, flow_device={cfg.flow_device!r}): "
                               f"{err}") from None
    return _FLOWS[key]


def raw_features(prev: np.ndarray, nxt: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """(u, v, |e|) ``(S, S, 3)`` float32 of one pair of grayscale crops (before preprocessing)."""
    flow = flow_computer(cfg)(prev, nxt)
    return np.dstack([flow, optical_strain(flow[..., 0], flow[..., 1])])


@timed(FLOW)
def pair_flows(crops: np.ndarray, k: int, cfg: FeatureConfig, *, key: str = "video",
               first: int = 0) -> np.ndarray:
    """Flow of pairs (j, j+k), j = 0 .. len(crops)-k-1, in one batched call.

    Args:
        crops: ``(m, S, S)`` uint8 grayscale crops (``"tvl1_torch"``: also float, 0..255).
        k: frame distance of the pairs.
        cfg: the flow settings (``flow``, ``flow_params``, ``flow_device``, ``flow_batch``).
        key: the video's key, named in errors.
        first: frame number of ``crops[0]`` in the video, for errors.

    Returns:
        ``(m-k, S, S, 2)`` float32 flow (u, v).

    Raises:
        FeatureError: naming the video and frame pair when the flow refuses a pair (frames of
            different sizes, NaN pixels) or the flow device is unavailable.
    """
    prev, nxt = crops[:len(crops) - k], crops[k:]
    try:
        return flow_computer(cfg).many(prev, nxt)
    except ValueError as err:
        j = getattr(err, "pair", None)
        if j is not None:
            raise FeatureError(f"{key}: frame pair ({first + j}, {first + j + k}): {err}") from None
        raise FeatureError(f"{key}: frame pairs ({first}, {first + k}) .. "
                           f"({first + len(prev) - 1}, {first + len(prev) - 1 + k}): {err}") from None


@timed(ROI_FEATURES)
def flow_features(flows: np.ndarray, pts68: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """ROI mosaics of pairs from their flow: ``(P, S, S, 2)`` and ``(>= P, 68, 2)`` -> ``(P, 2r, 2r, 3)``."""
    sizes = config_sizes(cfg)
    out = np.empty((len(flows), 2 * sizes.roi, 2 * sizes.roi, 3), np.float32)
    for j, flow in enumerate(flows):
        raw = np.dstack([flow, optical_strain(flow[..., 0], flow[..., 1])])
        out[j] = preprocess_sample(raw, pts68[j], sizes, abs_uv=cfg.abs_uv, layout=cfg.roi_layout)
    return out


def pair_features(crops: np.ndarray, pts68: np.ndarray, k: int, cfg: FeatureConfig, *,
                  key: str = "video", first: int = 0) -> np.ndarray:
    """ROI mosaics of pairs (j, j+k) for j = 0 .. len(crops)-k-1.

    crops: ``(m, S, S)`` uint8; pts68: ``(>= m-k, 68, 2)`` landmarks of the first frames of the
    pairs -> ``(m-k, 2r, 2r, 3)`` float32. ``key``/``first`` name the video and the first frame in
    errors (:func:`pair_flows`). Flows are held for ``cfg.chunk`` pairs at a time.
    """
    n_pairs = len(crops) - k
    step = max(int(cfg.chunk), 1)
    parts = [flow_features(pair_flows(crops[s:min(s + step, n_pairs) + k], k, cfg, key=key, first=first + s),
                           pts68[s:], cfg) for s in range(0, n_pairs, step)]
    if not parts:
        sizes = config_sizes(cfg)
        return np.empty((0, 2 * sizes.roi, 2 * sizes.roi, 3), np.float32)
    return np.concatenate(parts)


def extract_video(video, k: int, cfg: FeatureConfig, *, model: str | os.PathLike | None = None,
                  progress: bool = False, track: FaceTrack | None = None,
                  cache_root: str | os.PathLike | None = None) -> tuple[np.ndarray, FaceTrack]:
    """Features of one video in this process: ``((n-k, 2r, 2r, 3) float32, FaceTrack)``.

    ``track``: the video's face track when already known (e.g. from the cache of another k);
    ``cache_root``: where its landmarks are cached (:func:`~slswin_lib.features.tracking.track_face`).
    """
    check_length(video, k)
    if track is None:
        track = track_face(video, cfg, model=model, progress=progress, cache_root=cache_root)
    return pair_features(track.crops, track.pts68, k, cfg, key=video.key), track
