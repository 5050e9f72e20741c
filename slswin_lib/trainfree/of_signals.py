"""The optical-flow spotter's ROI motion signals, from a face track (:class:`~slswin_lib.features.tracking.FaceTrack`).

Per analysis window (frames ``f_0 .. f_{m-1}`` of the analysed rate, ``f_0`` its *reference*):

* *alignment*: the frames are our face crops, each cut around its own frame's landmarks (the face box of
  :mod:`slswin_lib.features.crop`), so the face stays in place from frame to frame; this takes the place
  of the source's crop box, which is fixed for a window and moved by the nose's flow when that exceeds
  ``align_px``. The source's check is kept: while the nose tip of a frame still moves more than
  ``align_px`` from the reference (at most ``align_tries`` times), the frame's crop is moved by that motion
  (by ``g`` exactly; the source moves by whole pixels);
* *head motion*: the Farneback flow of the nose-tip box (``OFSpotConfig.head_roi``) from the reference;
  the mean of its largest vectors is the head's motion ``g``, removed from every signal;
* every region of ``OFSpotConfig.rois`` (boxes around dlib-68 points of the reference frame, sizes scaled
  by the face scale) gives its flow from the reference; each signal (the whole box less a border, or a
  patch around one point) is the mean of its largest vectors (:func:`top_mean`) less ``g``, and the
  signal's value is that vector's length.

The dlib-68 points are MediaPipe mesh vertices (:data:`slswin_lib.features.landmarks.MESH_TO_DLIB68`;
docs/method.md, section 5, lists the ones each region uses).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import FlowROI, OFSpotConfig

__all__ = ["OFError", "OFTooShort", "Region", "Layout", "face_scale", "roi_box", "layout", "signal_names", "signal_groups", "top_mean",
           "shifted", "flow_computer", "window_signals"]

#: dlib-68 inner eye corners: their distance is the face scale
EYE_CORNERS = (39, 42)


class OFError(ValueError):
    """A video cannot be spotted by the optical-flow spotter (too short, no frame rate, no face, NaN)."""


class OFTooShort(OFError):
    """A clip shorter than the optical-flow spotter's shortest analysis window."""


def face_scale(pts68: np.ndarray, missing: np.ndarray, cfg: OFSpotConfig, *, key: str = "video") -> float:
    """Median inner-eye-corner distance of the frames with a face, over the source's
    (:attr:`~slswin_lib.config.OFSpotConfig.source_eye_distance`): the factor of every pixel setting."""
    found = ~np.asarray(missing, dtype=bool)
    if not found.any():
        raise OFError(f"{key}: no frame has a face; the optical-flow spotter needs face landmarks")
    a, b = EYE_CORNERS
    d = float(np.median(np.linalg.norm(pts68[found, b] - pts68[found, a], axis=-1)))
    if not np.isfinite(d) or d <= 0:
        raise OFError(f"{key}: the inner eye corners coincide (distance {d}); the landmarks describe no face")
    return d / cfg.source_eye_distance


@dataclass(frozen=True)
class Region:
    """A flow box of the reference crop, ``(y0, y1, x0, x1)`` (ends exclusive), and its signals: per
    signal the rows/columns within the box and the fraction of largest vectors averaged."""

    name: str
    box: tuple[int, int, int, int]
    signals: tuple[tuple[str, tuple[slice, slice], float], ...]
    group: str


@dataclass(frozen=True)
class Layout:
    """The head region and the signal regions of one window (:func:`layout`)."""

    head: Region
    regions: tuple[Region, ...]

    @property
    def n_signals(self) -> int:
        return sum(len(r.signals) for r in self.regions)


def _px(value: float, scale: float) -> int:
    return int(round(value * scale))


def roi_box(pts68: np.ndarray, roi: FlowROI, scale: float, size: int) -> tuple[int, int, int, int]:
    """``(y0, y1, x0, x1)`` of ``roi`` around the reference frame's points (``pts68`` ``(68, 2)`` crop px),
    its margins times ``scale``, clipped to the ``size`` px crop."""
    p = np.asarray(pts68, dtype=np.float64)[list(roi.points)]
    above, below, left, right = roi.margins
    y0 = max(_px(p[:, 1].min() - above * scale, 1.0), 0)
    y1 = min(_px(p[:, 1].max() + below * scale, 1.0), size)
    x0 = max(_px(p[:, 0].min() - left * scale, 1.0), 0)
    x1 = min(_px(p[:, 0].max() + right * scale, 1.0), size)
    return y0, y1, x0, x1


def _inner(box: tuple[int, int, int, int], extents: tuple[int, int, int, int], scale: float,
           centre: tuple[float, float] | None = None) -> tuple[slice, slice]:
    """Rows and columns (relative to ``box``) of the box less a border (``centre`` None) or of a patch around
    ``centre`` (x, y in crop px); ``extents`` (above, below, left, right) times ``scale``."""
    y0, y1, x0, x1 = box
    above, below, left, right = (_px(v, scale) for v in extents)
    if centre is None:
        rows, cols = (above, y1 - y0 - below), (left, x1 - x0 - right)
    else:
        cy, cx = _px(centre[1], 1.0) - y0, _px(centre[0], 1.0) - x0
        rows, cols = (cy - above, cy + below), (cx - left, cx + right)
    r0, r1 = max(rows[0], 0), min(rows[1], y1 - y0)
    c0, c1 = max(cols[0], 0), min(cols[1], x1 - x0)
    return slice(r0, max(r1, r0)), slice(c0, max(c1, c0))


def _region(roi: FlowROI, pts68: np.ndarray, scale: float, size: int, where: str) -> Region:
    box = roi_box(pts68, roi, scale, size)
    signals = []
    if roi.trim is not None:
        signals.append((roi.name, _inner(box, roi.trim, scale), roi.fraction))
    for point, extents in roi.patches:
        signals.append((f"{roi.name} @{point}", _inner(box, extents, scale, tuple(pts68[point])), roi.patch_fraction))
    for name, (rows, cols), _ in signals:
        if rows.stop - rows.start < 2 or cols.stop - cols.start < 2:
            raise OFError(f"{where}: region {name!r} is empty in the {size} px crop (box {box}); the landmarks do "
                          "not describe a face there")
    return Region(roi.name, box, tuple(signals), roi.group)


def layout(pts68: np.ndarray, cfg: OFSpotConfig, scale: float, size: int, *, where: str = "video") -> Layout:
    """The regions of a window whose reference frame has landmarks ``pts68`` ``(68, 2)`` (crop px)."""
    return Layout(_region(cfg.head_roi, pts68, scale, size, where),
                  tuple(_region(roi, pts68, scale, size, where) for roi in cfg.rois))


def signal_names(cfg: OFSpotConfig) -> list[str]:
    """The names of the signals, in order (``"mouth"``, ``"mouth @48"``, ...).

    >>> from slswin_lib.config import OF_SPOT
    >>> names = signal_names(OF_SPOT)
    >>> len(names), names[:2], names[-1]
    (16, ['left brow', 'left brow @20'], 'nose sides @35')
    """
    out = []
    for roi in cfg.rois:
        out += [roi.name] * (roi.trim is not None) + [f"{roi.name} @{p}" for p, _ in roi.patches]
    return out


def signal_groups(cfg: OFSpotConfig) -> list[str]:
    """Each signal's ROI group (its rise threshold), in signal order."""
    return [roi.group for roi in cfg.rois for _ in range(roi.n_signals)]


def top_mean(flow: np.ndarray, fraction: float) -> np.ndarray:
    """Mean ``(2,)`` of the ``fraction`` of vectors of ``flow`` ``(h, w, 2)`` with the largest magnitude.

    >>> f = np.zeros((2, 5, 2)); f[0, :2] = [3.0, 4.0]
    >>> top_mean(f, 0.2).tolist()
    [3.0, 4.0]
    """
    v = np.asarray(flow, dtype=np.float64).reshape(-1, 2)
    n = len(v)
    keep = n - int(n * (1.0 - fraction))
    mag = np.hypot(v[:, 0], v[:, 1])
    return v[np.argpartition(mag, n - keep)[n - keep:]].mean(axis=0)


def shifted(crop: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """``crop`` ``(S, S)`` uint8 seen through a crop box moved by ``offset`` ``(dx, dy)`` px (bilinear,
    borders replicated): the content at ``p + offset`` appears at ``p``."""
    import cv2

    m = np.array([[1.0, 0.0, -float(offset[0])], [0.0, 1.0, -float(offset[1])]])
    return cv2.warpAffine(crop, m, crop.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def flow_computer(cfg: OFSpotConfig, scale: float):
    """The Farneback flow of the settings, its window size times ``scale`` (at least 3 px)."""
    from ..features.flow import FlowComputer

    params = dict(cfg.flow_params)
    if "winsize" in params:
        params["winsize"] = max(3, _px(params["winsize"], scale))
    return FlowComputer("farneback", params)


def _cut(img: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    y0, y1, x0, x1 = box
    return np.ascontiguousarray(img[y0:y1, x0:x1])


def window_signals(crops: np.ndarray, missing: np.ndarray, pts_ref: np.ndarray,
                   cfg: OFSpotConfig, scale: float, flow, *, key: str = "video",
                   frames: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """The motion signals of one window (module docs).

    Args:
        crops: ``(m, S, S)`` uint8 face crops of the window's frames, ``crops[0]`` the reference.
        missing: ``(m,)`` frames without a face (their signals are interpolated from their neighbours).
        pts_ref: ``(68, 2)`` the reference frame's dlib-68 points (crop px); it must have a face.
        scale: the face scale (:func:`face_scale`).
        flow: a flow estimator (:func:`flow_computer`).
        frames: the window's frame numbers in the video (for errors; default ``0 .. m - 1``).

    Returns:
        ``(signals, head, n_missing)``: ``(n_signals, m)`` float64 magnitudes in crop px (sample 0 = 0),
        ``(m, 2)`` the head motion removed, and the number of frames without a face.

    Raises:
        OFError: the reference frame has no face, a region is empty, or a signal is not finite (naming the
            video and frame).
    """
    m, size = len(crops), crops.shape[1]
    frames = np.arange(m) if frames is None else np.asarray(frames)
    if missing[0]:
        raise OFError(f"{key}: frame {int(frames[0])}, a window's reference, has no face")
    lay = layout(pts_ref, cfg, scale, size, where=f"{key}: frame {int(frames[0])}")
    ref = crops[0]
    ref_head = _cut(ref, lay.head.box)
    ref_regions = [_cut(ref, r.box) for r in lay.regions]
    (_, head_cut, head_fraction), = lay.head.signals
    align = cfg.align_px * scale
    signals = np.zeros((lay.n_signals, m))
    head = np.zeros((m, 2))
    for j in range(1, m):
        if missing[j]:
            signals[:, j] = np.nan
            continue
        view, offset = crops[j], np.zeros(2)
        for attempt in range(cfg.align_tries + 1):
            g = top_mean(flow(ref_head, _cut(view, lay.head.box))[head_cut], head_fraction)
            if not np.isfinite(g).all():
                raise OFError(f"{key}: frame {int(frames[j])}: the flow from frame {int(frames[0])} is not finite "
                              f"({lay.head.name!r}, the head's motion)")
            if np.hypot(*g) <= align or attempt == cfg.align_tries:
                break
            offset = offset + g
            view = shifted(crops[j], offset)
        head[j] = g
        i = 0
        for region, ref_cut in zip(lay.regions, ref_regions):
            f = flow(ref_cut, _cut(view, region.box))
            for _, (rows, cols), fraction in region.signals:
                signals[i, j] = np.hypot(*(top_mean(f[rows, cols], fraction) - g))
                i += 1
        if not np.isfinite(signals[:, j]).all():
            raise OFError(f"{key}: frame {int(frames[j])}: the flow from frame {int(frames[0])} is not finite "
                          f"(signal {signal_names(cfg)[int(np.flatnonzero(~np.isfinite(signals[:, j]))[0])]!r})")
    n_missing = int(np.asarray(missing[1:], dtype=bool).sum())
    if n_missing:
        known = np.flatnonzero(~np.asarray(missing, dtype=bool))
        for row in signals:
            row[:] = np.interp(np.arange(m), known, row[known])
    return signals, head, n_missing
