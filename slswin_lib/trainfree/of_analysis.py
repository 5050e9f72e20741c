"""The optical-flow spotter's signal analysis: from per-frame ROI motion to spotted intervals.

Each of a window's ROI motion signals (:mod:`slswin_lib.trainfree.of_signals`: the magnitude of an
ROI's flow relative to the window's first frame, the nose-tip motion removed) goes through the steps
of the source (:data:`slswin_lib.config.OF_SOURCE`; docs/method.md, section 5, lists every setting):

1. *Band filter* (:func:`lowpass`): the signal without its first and last sample, its FFT bins from
   the one nearest :attr:`~slswin_lib.config.OFSpotConfig.lowpass_hz` on set to zero, the absolute
   value of the inverse transform (the source keeps the negative-frequency half of that bin, which makes
   its result complex, and takes the modulus).
2. *EMD* (:func:`detrend`): the filtered curve less the last component of its empirical mode
   decomposition (``PyEMD.EMD``, package EMD-signal; the last component is the residue when there is
   one), i.e. without its trend.
3. *Peak test* (:func:`peak_intervals`): samples at least ``candidate`` above the curve's minimum are
   candidates; candidates closer than ``run_gap`` samples form runs; a run's samples (its last one
   excepted, as in the source) are kept when the curve rises more than ``rise`` and the detrended curve
   more than ``emd_rise`` above their minima within ``valley_reach`` samples either side; kept samples
   closer than ``run_gap`` form the intervals.
4. *Expansion* (:func:`expand`): each end walks down the curve's slope towards the nearest valley
   until the curve is within ``expand_ratio`` of the way from the valley to the interval's peak, or
   rises again; an end with no lower valley beyond it moves onto a valley within ``expand_near``
   samples that lies more than ``expand_valley`` below it.
5. *Splitting* (:func:`split`): an interval of at least ``split_min`` samples with a dip (the minimum
   at least ``split_margin`` samples inside either end) that lies more than
   ``max(split_dip, split_ratio * peak)`` below the peaks on both sides becomes two.
6. *Merging* (:func:`merge`): intervals are taken in order; one whose overlap covers more than
   ``merge_overlap`` of its own length or of an earlier interval's is joined into that one (into every
   such one); lengths are ``offset - onset`` as in the source, and a zero-length interval joins none.

Window placement (:func:`next_step`), length limits and typing (:func:`keep_lengths`,
:func:`types_of`) close the method. Sizes here are in samples and pixels of the analysed video
(:class:`AnalysisParams`, resolved from the settings by :func:`analysis_params`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..config import OFSpotConfig

__all__ = ["AnalysisParams", "analysis_params", "scaled_frames", "lowpass", "detrend", "runs", "reach_minimum",
           "peak_intervals", "expand", "split", "merge", "merge_twice", "analyse_signal", "next_step",
           "keep_lengths", "types_of"]


class AnalysisParams(NamedTuple):
    """The analysis settings of one signal group on one video: pixels (at the video's face crop, times
    the sensitivity) and samples (at the analysed rate)."""

    candidate: float
    rise: float
    emd_rise: float
    run_gap: int
    valley_reach: int
    expand_ratio: float
    expand_near: int
    expand_valley: float
    split_min: int
    split_margin: int
    split_dip: float
    split_ratio: float


def scaled_frames(frames: int, rate: float, cfg: OFSpotConfig) -> int:
    """A frame count of the settings (at ``cfg.source_fps``) at the analysed rate, at least 1.

    >>> from slswin_lib.config import OF_SPOT
    >>> scaled_frames(30, 30.0, OF_SPOT), scaled_frames(30, 25.0, OF_SPOT), scaled_frames(200, 200 / 7, OF_SPOT)
    (30, 25, 190)
    """
    return max(1, int(round(frames * rate / cfg.source_fps)))


def analysis_params(cfg: OFSpotConfig, group: str, face_scale: float, rate: float,
                    sensitivity: float | None = None) -> AnalysisParams:
    """The settings of ROI group ``group`` resolved for a video (face scale, analysed rate, sensitivity;
    default ``cfg.sensitivity``)."""
    gain = face_scale * (cfg.sensitivity if sensitivity is None else sensitivity)
    rise = dict(cfg.rise_px)
    if group not in rise:
        raise ValueError(f"no rise threshold for ROI group {group!r}; OFSpotConfig.rise_px has {sorted(rise)}")

    def frames(n: int) -> int:
        return scaled_frames(n, rate, cfg)

    return AnalysisParams(cfg.candidate_px * gain, rise[group] * gain, cfg.emd_rise_px * gain, frames(cfg.run_gap),
                          frames(cfg.valley_reach), cfg.expand_ratio, frames(cfg.expand_near),
                          cfg.expand_valley_px * gain, frames(cfg.split_min), frames(cfg.split_margin),
                          cfg.split_dip_px * gain, cfg.split_ratio)


def lowpass(x: np.ndarray, rate: float, cutoff_hz: float) -> np.ndarray:
    """Ideal low-pass of ``x`` ``(m,)`` sampled at ``rate`` Hz: FFT bins from the one nearest
    ``cutoff_hz`` on set to zero, absolute value of the result (step 1 of the module docs).

    >>> t = np.arange(60) / 30.0
    >>> y = lowpass(2 + np.sin(2 * np.pi * 1 * t) + np.sin(2 * np.pi * 10 * t), 30.0, 5.0)
    >>> bool(np.allclose(y, 2 + np.sin(2 * np.pi * 1 * t)))
    True
    """
    x = np.asarray(x, dtype=np.float64)
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), d=1.0 / rate)
    cut = int(np.argmin(np.abs(freqs - cutoff_hz)))
    spectrum[cut:] = 0.0
    return np.abs(np.fft.irfft(spectrum, n=len(x)))


def detrend(curve: np.ndarray) -> np.ndarray:
    """``curve`` less the last component of its empirical mode decomposition (its trend; step 2).

    A curve with no oscillation decomposes into itself alone, so nothing is left (zeros).
    """
    from PyEMD import EMD

    curve = np.asarray(curve, dtype=np.float64)
    components = EMD().emd(curve, np.arange(len(curve), dtype=np.float64))
    return components[:-1].sum(axis=0) if len(components) > 1 else np.zeros_like(curve)


def runs(idx: np.ndarray, gap: int) -> np.ndarray:
    """Sorted sample indices grouped into runs (neighbours closer than ``gap``): ``(R, 2)`` first, last.

    >>> runs(np.array([2, 3, 5, 9, 10, 20]), 3).tolist()
    [[2, 5], [9, 10], [20, 20]]
    """
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == 0:
        return np.zeros((0, 2), np.int64)
    breaks = np.flatnonzero(np.diff(idx) >= gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(idx) - 1]])
    return np.stack([idx[starts], idx[ends]], axis=1)


def reach_minimum(x: np.ndarray, reach: int) -> np.ndarray:
    """Per sample ``j``, the minimum of ``x`` over samples ``j - reach .. j + reach - 1`` (clipped).

    >>> reach_minimum(np.array([5.0, 4, 3, 2, 9, 9, 9]), 2).tolist()
    [4.0, 3.0, 2.0, 2.0, 2.0, 2.0, 9.0]
    """
    x = np.asarray(x, dtype=np.float64)
    padded = np.concatenate([np.full(reach, np.inf), x, np.full(reach, np.inf)])
    return np.lib.stride_tricks.sliding_window_view(padded, 2 * reach)[:len(x)].min(axis=1)


def peak_intervals(curve: np.ndarray, p: AnalysisParams, detrended=None) -> np.ndarray:
    """Step 3: the intervals ``(K, 2)`` (first, last sample) where ``curve`` rises (module docs).

    Args:
        curve: the filtered curve ``(m,)``.
        p: the resolved settings.
        detrended: the detrended curve ``(m,)``, or a function of no argument that returns it (called
            only when some sample passes the candidate test: the EMD is the costly step).
    """
    curve = np.asarray(curve, dtype=np.float64)
    candidates = np.flatnonzero(curve - curve.min() >= p.candidate)
    tested = np.concatenate([np.arange(a, b) for a, b in runs(candidates, p.run_gap)] or [np.zeros(0, np.int64)])
    if len(tested) == 0:
        return np.zeros((0, 2), np.int64)
    d = detrended() if callable(detrended) else detrended
    d = np.asarray(d, dtype=np.float64)
    rises = (curve - reach_minimum(curve, p.valley_reach))[tested] > p.rise
    rises &= (d - reach_minimum(d, p.valley_reach))[tested] > p.emd_rise
    return runs(tested[rises], p.run_gap)


def _window(m: int, j: int, reach: int) -> slice:
    return slice(max(0, j - reach), min(m, j + reach))


def expand(intervals: np.ndarray, curve: np.ndarray, p: AnalysisParams) -> np.ndarray:
    """Step 4: each interval's ends moved down the curve's slopes (module docs); ``(K, 2)``."""
    e = np.asarray(curve, dtype=np.float64)
    m = len(e)
    out = np.array(intervals, dtype=np.int64).reshape(-1, 2)
    for row in out:
        s, t = int(row[0]), int(row[1])
        high = e[s:t].max() if t > s else e[s]
        ws, wt = _window(m, s, p.valley_reach), _window(m, t, p.valley_reach)
        low_s, at_s = e[ws].min(), ws.start + int(np.argmin(e[ws]))
        low_t, at_t = e[wt].min(), wt.start + int(np.argmin(e[wt]))
        if at_s < s:
            for j in range(s - 1, -1, -1):
                if e[j] - low_s < p.expand_ratio * (high - low_s):
                    row[0] = j
                    break
                if e[j] > e[j + 1]:
                    row[0] = j + 2
                    break
        else:
            left = max(s - p.expand_near, 0)
            valley = left + int(np.argmin(e[left:s + 1]))
            if e[s] - e[valley] > p.expand_valley:
                row[0] = valley + 1
        if at_t > t:
            for j in range(t + 1, at_t):
                if e[j] - low_t < p.expand_ratio * (high - low_t):
                    row[1] = j
                    break
                if e[j] > e[j - 1]:
                    row[1] = j - 2
                    break
        else:
            right = min(t + p.expand_near, m - 1)
            valley = t + int(np.argmin(e[t:right + 1]))
            if e[t] - e[valley] > p.expand_valley:
                row[1] = valley - 1
    return out


def split(intervals: np.ndarray, curve: np.ndarray, p: AnalysisParams) -> np.ndarray:
    """Step 5: an interval with a deep enough dip becomes two (module docs); ``(K', 2)``."""
    e = np.asarray(curve, dtype=np.float64)
    out = []
    for s, t in np.asarray(intervals, dtype=np.int64).reshape(-1, 2):
        s, t = int(s), int(t)
        inner = e[s + p.split_margin:t - p.split_margin]
        if t - s >= p.split_min and len(inner):
            dip = s + p.split_margin + int(np.argmin(inner))
            left, right = e[s:dip].max(), e[dip:t].max()
            if (left - e[dip] > max(p.split_dip, p.split_ratio * left)
                    and right - e[dip] > max(p.split_dip, p.split_ratio * right)):
                out += [(s, dip - 1), (dip + 1, t)]
                continue
        out.append((s, t))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def merge(intervals: np.ndarray, overlap: float) -> np.ndarray:
    """Step 6, one pass: join overlapping intervals in order (module docs); ``(K', 2)``.

    >>> merge(np.array([[0, 10], [8, 30], [40, 50], [49, 60]]), 0.1).tolist()
    [[0, 30], [40, 50], [49, 60]]
    """
    merged: list[list[int]] = []
    for s, t in np.asarray(intervals, dtype=np.int64).reshape(-1, 2):
        s, t = int(s), int(t)
        joined = False
        for m in merged:
            if s > m[1] or t < m[0] or t == s or m[1] == m[0]:
                continue
            shared = min(t, m[1]) - max(s, m[0])
            if max(shared / (m[1] - m[0]), shared / (t - s)) > overlap:
                m[0], m[1] = min(m[0], s), max(m[1], t)
                joined = True
        if not joined:
            merged.append([s, t])
    return np.array(merged, dtype=np.int64).reshape(-1, 2)


def merge_twice(intervals: np.ndarray, overlap: float) -> np.ndarray:
    """:func:`merge` applied twice, as the source does (the first pass can leave joined intervals
    overlapping)."""
    return merge(merge(intervals, overlap), overlap)


def analyse_signal(signal: np.ndarray, p: AnalysisParams, rate: float, cfg: OFSpotConfig, *,
                   curve: np.ndarray | None = None, detrended=None) -> np.ndarray:
    """Steps 1-5 on one window's signal ``(m,)``: intervals ``(K, 2)`` in the signal's samples.

    Args:
        signal: the ROI motion magnitude, sample 0 at the window's reference frame.
        curve, detrended: the filtered curve of ``signal[trim:-trim]`` and its detrended curve (or a
            function that returns it), when already computed.
    """
    trim = cfg.trim_samples
    if curve is None:
        curve = lowpass(np.asarray(signal, dtype=np.float64)[trim:len(signal) - trim], rate, cfg.lowpass_hz)
    if detrended is None:
        detrended = lambda: detrend(curve)  # noqa: E731 (computed only when needed)
    found = peak_intervals(curve, p, detrended)
    if len(found) == 0:
        return found
    return split(expand(found, curve, p), curve, p) + trim


def next_step(intervals: np.ndarray, length: int, rate: float, cfg: OFSpotConfig) -> int:
    """Where the next window starts, relative to this one's start (the source's rule).

    By default half a window on (``window_step``); an interval over the window's middle moves the next
    start past it (``move_gap`` after its end when it ends before ``move_end_before``), before it
    (``move_gap`` before its start when it starts after ``move_start_after``), or else
    ``move_last`` after its end (at most ``length - 1``); the last such interval decides.

    Args:
        intervals: the window's merged intervals, in samples from the window's start.
        length: the window's length in samples.
    """
    def frames(n: int) -> int:
        return scaled_frames(n, rate, cfg)

    middle = frames(cfg.window) // 2
    step = frames(cfg.window_step)
    for s, t in np.asarray(intervals, dtype=np.int64).reshape(-1, 2):
        if s < middle < t:
            if t < frames(cfg.move_end_before):
                step = t + frames(cfg.move_gap)
            elif s > frames(cfg.move_start_after):
                step = s - frames(cfg.move_gap)
            else:
                step = min(t + frames(cfg.move_last), length - 1)
    return max(int(step), 1)


def keep_lengths(intervals: np.ndarray, rate: float, cfg: OFSpotConfig) -> np.ndarray:
    """The intervals whose length ``offset - onset`` lies within the length limits (at ``rate``)."""
    iv = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
    length = iv[:, 1] - iv[:, 0]
    keep = (length >= scaled_frames(cfg.min_length, rate, cfg)) & (length <= scaled_frames(cfg.max_length, rate, cfg))
    return iv[keep]


def types_of(intervals: np.ndarray, rate: float, cfg: OFSpotConfig) -> np.ndarray:
    """``"me"`` for an interval with ``offset - onset <= me_max_length`` (at ``rate``), else ``"mae"``."""
    iv = np.asarray(intervals, dtype=np.int64).reshape(-1, 2)
    me = (iv[:, 1] - iv[:, 0]) <= scaled_frames(cfg.me_max_length, rate, cfg)
    return np.where(me, "me", "mae")
