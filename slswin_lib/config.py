"""Run profiles: the one place where every size, count and setting of a run is defined.

Three profiles share one schema:

* ``smoke``: tests and CI; every stage runs in seconds to minutes on a 2-core CPU.
* ``quick``: the default of ``./run_all.sh`` on a laptop CPU (a cold run of the whole pipeline took 101 min on 2 cores).
* ``paper``: the paper's exact settings (He, Chen & Zhong 2023, docs/method.md); a GPU is expected.

Each stage owns one frozen dataclass section; a :class:`Profile` bundles them.
Notebooks take a ``profile`` parameter and call :func:`get_profile`; individual values can be
overridden with :func:`Profile.replace` (``profile.replace(train={"epochs": 2})``).

Fidelity: where the authors' public code (which produced the published numbers) departs from the
paper's text, a named setting chooses between the two (:data:`FIDELITY`, one entry per difference).
The dataclass defaults follow the paper's text (except ``SpotConfig.k_from``, whose default is the
authors' all-subjects k); every profile takes the authors' code
(:data:`AUTHORS_CODE`), except that smoke and quick train on one pooled training set (a CPU
budget). :func:`paper_text` gives the paper-text variant of a profile (``get_profile("quick-paper_text")``),
:func:`fidelity_variants` one variant per difference for an ablation, and :func:`fidelity_table`
the table of all differences with the value each profile uses.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = [
    "SpotConfig",
    "DataConfig",
    "FeatureConfig",
    "ModelConfig",
    "TrainConfig",
    "AblationConfig",
    "Profile",
    "PROFILES",
    "MIN_EVENTS",
    "get_profile",
    "check_choice",
    "resolve_profile",
    "RUNTIME_ONLY",
    "run_digest",
    "identity_facts",
    "check_threshold_factor",
    "PAPER_T",
    "BASELINE_K",
    "BASELINE_FPS",
    "BASELINE_T",
    "OF_SOURCE",
    "OF_UNITS",
    "FlowROI",
    "OF_ROIS",
    "OF_HEAD_ROI",
    "OFSpotConfig",
    "OF_SPOT",
    "KNOWN_FPS",
    "VAL_SAMPLES",
    "VAL_POINTS",
    "INTERVAL_RESAMPLES",
    "BOOTSTRAP_MIN_VIDEOS",
    "BOOTSTRAP_BLOCK_SECONDS",
    "Fidelity",
    "FIDELITY",
    "AUTHORS_CODE",
    "PAPER_TEXT",
    "paper_text",
    "fidelity_variants",
    "fidelity_table",
    "fidelity_markdown",
    "SOFTNET",
    "SOFTNET_RECIPES",
    "SOFTNET_T",
    "peer_profile",
    "CPU_KERNELS",
]

#: settings that change how fast or where a run goes, never its results; :func:`run_digest`
#: leaves them out, so changing them reuses cached features, folds and checkpoints
RUNTIME_ONLY = frozenset({"workers", "chunk", "fold_workers", "device", "predict_batch_size",
                          "flow_device", "flow_batch", "flow_compile", "loader_workers", "autocast",
                          "compile", "cpu_kernels"})


#: the paper's threshold factor t (Section 2.5, Fig. 1): T = mean + t (max - mean); the default of
#: :class:`SpotConfig` and of every function that takes a t
PAPER_T = 0.60
#: frame rates of the data sets (their readers' defaults), for the spotter checkpoints of those sets
KNOWN_FPS: dict[str, float] = {"casme2": 30.0, "samm_lv": 200.0, "megc2022_cas": 30.0, "megc2022_samm": 200.0}
#: held-out samples (a fixed, stratified draw) whose loss is tracked during a fold's training: enough
#: for a learning curve, few enough that measuring it costs a small share of the fold's time
VAL_SAMPLES = 128
#: held-out loss measurements over a training budget when ``TrainConfig.val_every`` is None
VAL_POINTS = 10
#: bootstrap resamples of the F1 intervals and paired F1 differences in the result tables
INTERVAL_RESAMPLES = 2000
#: with at least this many held-out videos the bootstrap resamples whole videos; with fewer, time
#: blocks of the videos (slswin_lib.comparison): 2 videos give 3 distinct video resamples, too few
#: for an interval to mean anything
BOOTSTRAP_MIN_VIDEOS = 10
#: the time blocks' length in seconds (each spotted and ground-truth interval counted in the block
#: of its onset): long against an expression (ME <= 0.5 s, MaE <= 4 s), short against a video
BOOTSTRAP_BLOCK_SECONDS = 10.0


# -- training-free methods (slswin_lib.trainfree) ----------------------------------------------------
#: the ROI flow-magnitude baseline (:mod:`slswin_lib.trainfree.baseline`): the paper's CAS(ME)^2 k
#: (Section 2.1) at CAS(ME)^2's frame rate (rescaled to a video's), and the paper's t
BASELINE_K: dict[str, int] = {"me": 6, "mae": 18}
BASELINE_FPS = 30.0
BASELINE_T = PAPER_T
#: the public code the optical-flow spotter's settings are read from (He Yuhong et al., MEGC 2024;
#: read for facts only): :mod:`slswin_lib.trainfree.ofspot` and docs/method.md, section 5
OF_SOURCE = "hitheyuhong/MEGC2024-CODE at 3d8269c"
#: units of the optical-flow spotter's settings: ``px`` at the source's face crop (scaled to a video's face,
#: :class:`OFSpotConfig`), ``frames`` at the source's frame rate (scaled to a video's), the rest as is
OF_UNITS = ("px", "frames", "Hz", "ratio", "count")


@dataclass(frozen=True)
class FlowROI:
    """One region of the optical-flow spotter and the motion signals it gives.

    The box is the bounding box of some dlib-68 points of the window's reference frame grown by
    ``margins`` (above, below, left, right); its flow gives a *whole-box* signal (the box less ``trim``
    on each side; None: no whole-box signal) and one signal per *patch* (a box around one point,
    ``(point, (above, below, left, right))``). Each signal is the mean flow vector of the ``fraction``
    (``patch_fraction``) of the region's vectors with the largest magnitude. Pixel sizes are at the
    source's face crop (:attr:`OFSpotConfig.source_eye_distance`); ``group`` names the rise threshold
    (:attr:`OFSpotConfig.rise_px`) of the region's signals.
    """

    name: str
    points: tuple[int, ...]
    margins: tuple[int, int, int, int]
    trim: tuple[int, int, int, int] | None
    fraction: float
    patches: tuple[tuple[int, tuple[int, int, int, int]], ...] = ()
    patch_fraction: float = 0.2
    group: str = ""

    @property
    def n_signals(self) -> int:
        return int(self.trim is not None) + len(self.patches)


def _setting(default: Any, step: str, unit: str, source: str, where: str, *, sensitive: bool = False):
    """A field of :class:`OFSpotConfig` with its documentation: the pipeline step, the unit
    (:data:`OF_UNITS` or ``"-"``), the source's value (text) and where the source sets it; ``sensitive``:
    multiplied by the sensitivity factor."""
    return field(default=default, metadata={"step": step, "unit": unit, "source": source, "where": where,
                                            "sensitive": sensitive})


_PATCH10 = (10, 10, 10, 10)
#: the four regions whose 16 signals are analysed (dlib-68 points 0-based; sizes in px at the source's crop)
OF_ROIS: tuple[FlowROI, ...] = (
    FlowROI("left brow", tuple(range(17, 22)), (15, 5, 5, 0), (10, 10, 10, 10), 0.2,
            ((20, _PATCH10), (19, _PATCH10), (18, _PATCH10)), 0.2, "brows"),
    FlowROI("right brow", tuple(range(22, 27)), (15, 5, 0, 0), (10, 10, 10, 10), 0.3,
            ((23, _PATCH10), (24, _PATCH10), (25, _PATCH10)), 0.3, "brows"),
    FlowROI("mouth", tuple(range(48, 67)), (15, 10, 20, 20), (10, 10, 10, 10), 0.3,
            ((48, (10, 10, 10, 20)), (54, (10, 10, 20, 10)), (51, _PATCH10), (57, _PATCH10), (62, _PATCH10)),
            0.2, "mouth"),
    FlowROI("nose sides", tuple(range(30, 36)), (20, 5, 30, 30), None, 0.2,
            ((31, (20, 5, 20, 10)), (35, (20, 5, 10, 20))), 0.2, "nose"),
)
#: the head-motion region: the nose tip, whose mean motion is removed from every signal
OF_HEAD_ROI = FlowROI("nose tip", (29, 30), (13, 13, 13, 13), (15, 10, 5, 5), 0.7)


@dataclass(frozen=True)
class OFSpotConfig:
    """The training-free optical-flow spotter (:mod:`slswin_lib.trainfree.ofspot`), every setting at the
    value of its source (:data:`OF_SOURCE`; CAS(ME)^2 where the source has one value per data set).

    Units: ``px`` are pixels of the source's CAS(ME)^2 face crop, on which the inner eye corners
    (dlib 39 and 42) lie :attr:`source_eye_distance` apart; on a video they are multiplied by its face
    scale, the median inner-eye-corner distance of its face crops over that distance (about 0.4 for
    the 128 px crop). ``frames`` are frames at :attr:`source_fps`; a video is analysed at every
    ``s``-th frame, ``s = max(1, round(fps / source_fps))`` (the source's SAMM-LV stride 7 at 200 fps),
    and frame counts are scaled to that rate. ``sensitive`` settings (the thresholds of the signal
    analysis) are also multiplied by :attr:`sensitivity`. docs/method.md, section 5, lists every
    setting beside the source's (generated by :func:`slswin_lib.trainfree.settings_markdown`).
    """

    source_eye_distance: float = _setting(
        64.0, "face scale", "px", "64 (a box 4 inner-eye-corner distances wide, resized to 256 px)",
        "spot_util_casme.py crop_picture; util/get_ME_feature.py (256 px)")
    source_fps: float = _setting(30.0, "frame rate", "-", "30 (CAS(ME)^2 every frame; SAMM-LV every 7th of 200)",
                                 "main_spotandrecog.py multivideo_CASME / multivideo_SAMM")
    window: int = _setting(200, "windows", "frames", "200", "spot_util_samm.py draw_roiline19 (k - 99 .. k + 100)")
    window_step: int = _setting(100, "windows", "frames", "100", "draw_roiline19 (move = 100)")
    move_end_before: int = _setting(
        150, "windows", "frames", "150: an interval over the middle ending before it: the next window starts "
        "move_gap after its end", "draw_roiline19 / draw_roiline18 (move)")
    move_start_after: int = _setting(
        50, "windows", "frames", "50: else, one starting after it: the next window starts move_gap before its "
        "start", "draw_roiline19 / draw_roiline18 (move)")
    move_gap: int = _setting(20, "windows", "frames", "20", "draw_roiline19 / draw_roiline18 (move)")
    move_last: int = _setting(10, "windows", "frames", "10: else move_last after the interval's end (at most "
                              "window - 1)", "draw_roiline19 / draw_roiline18 (move = min(189, end) + 10)")
    min_window: int = _setting(60, "windows", "frames", "none (ours: a clip or last window shorter than 2 x "
                               "valley_reach is not analysed)", "-")
    flow_params: tuple[tuple[str, Any], ...] = _setting(
        (("pyr_scale", 0.5), ("levels", 3), ("winsize", 15), ("iterations", 5), ("poly_n", 7), ("poly_sigma", 1.5)),
        "ROI flow (Farneback)", "px (winsize only)", "0.5, 3, 15, 5, 7, 1.5",
        "draw_roiline19 cv2.calcOpticalFlowFarneback")
    align_px: float = _setting(1.0, "head motion", "px", "1 (x1^2 + y1^2 > 1)", "draw_roiline19 (face alignment)")
    align_tries: int = _setting(3, "head motion", "count", "3", "draw_roiline19 (face alignment)")
    head_roi: FlowROI = _setting(OF_HEAD_ROI, "head motion", "px", "points 29-30, margin 13, less 15/10/5/5, "
                                 "fraction 0.7", "draw_roiline19 get_roi_bound(29, 31, 13), get_roi(flow2[15:-10, 5:-5], 0.7)")
    rois: tuple[FlowROI, ...] = _setting(OF_ROIS, "ROI signals", "px", "brows 17-21 / 22-26 (+3 patches each), "
                                         "mouth 48-66 (+5), nose sides 30-35 (2 patches)", "draw_roiline19")
    trim_samples: int = _setting(1, "signal", "count", "1 (a = 1)", "proce2 (flow1_total[a:-a])")
    lowpass_hz: float = _setting(5.0, "band filter", "Hz", "1-5 Hz, of which only the 5 Hz edge acts (FFT bins "
                                 "from the one nearest 5 Hz zeroed)", "util/sim_filter.py filt, temporal_ideal_filter")
    candidate_px: float = _setting(1.4, "peak test", "px", "1.4", "proce2 / fenxi1 (yuzhi1)", sensitive=True)
    rise_px: tuple[tuple[str, float], ...] = _setting(
        (("brows", 1.925), ("mouth", 1.85), ("nose", 2.10)), "peak test", "px",
        "brows 1.925, mouth 1.85, nose 2.10 (SAMM-LV 1.65, 1.5, 1.5)", "draw_roiline18 (mei, zui, ss) / fenxi1 "
        "(yuzhi2)", sensitive=True)
    emd_rise_px: float = _setting(0.8, "peak test (EMD)", "px", "0.8", "fenxi1 (imf_sum1 - low1 > 0.8)", sensitive=True)
    run_gap: int = _setting(3, "peak test", "frames", "3 (frames closer than 3 join)", "fenxi1")
    valley_reach: int = _setting(30, "peak test, expansion", "frames", "30", "fenxi1, expend (j - 30 .. j + 30)")
    expand_ratio: float = _setting(0.33, "expansion", "ratio", "0.33", "expend")
    expand_near: int = _setting(10, "expansion", "frames", "10", "expend")
    expand_valley_px: float = _setting(0.3, "expansion", "px", "0.3", "expend", sensitive=True)
    split_min: int = _setting(20, "splitting", "frames", "20", "divide")
    split_margin: int = _setting(8, "splitting", "frames", "8", "divide")
    split_dip_px: float = _setting(0.7, "splitting", "px", "0.7", "divide", sensitive=True)
    split_ratio: float = _setting(0.33, "splitting", "ratio", "0.33", "divide")
    merge_overlap: float = _setting(0.1, "merging", "ratio", "0.1 (SAMM-LV 0.34)", "spot_util_casme.py nms2")
    min_length: int = _setting(12, "length limits", "frames", "12 (SAMM-LV 10 at its stride)",
                               "draw_roiline18 (end - start >= 12)")
    max_length: int = _setting(200, "length limits", "frames", "200 (SAMM-LV none)",
                               "draw_roiline18 (end - start <= 200)")
    me_max_length: int = _setting(15, "typing", "frames", "15 = fps // 2 (ME when end - start <= it)",
                                  "shengjianda/micro-expression-spot main_casme2.py metrics (mic_frame), "
                                  "shared/reference/peers/README.md")
    sensitivity: float = _setting(1.0, "sensitivity", "ratio", "1 (ours: one factor on every px threshold of the "
                                  "signal analysis)", "-")
    sensitivity_grid: tuple[float, ...] = _setting(
        (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0), "sensitivity", "ratio",
        "none (ours: the values nested LOSO chooses from)", "-")

    def __post_init__(self) -> None:
        if not self.sensitivity > 0:
            raise ValueError(f"OFSpotConfig.sensitivity = {self.sensitivity} must be > 0 (1: the source's thresholds)")
        if not self.sensitivity_grid or min(self.sensitivity_grid) <= 0:
            raise ValueError("OFSpotConfig.sensitivity_grid must hold factors > 0")
        groups = {r.group for r in self.rois}
        missing = groups - {g for g, _ in self.rise_px}
        if missing:
            raise ValueError(f"OFSpotConfig.rise_px has no threshold for ROI group(s) {sorted(missing)}")
        if not 2 <= self.min_window <= self.window:
            raise ValueError(f"OFSpotConfig.min_window = {self.min_window} must lie in [2, window = {self.window}]")


#: the optical-flow spotter at its source's settings
OF_SPOT = OFSpotConfig()


def identity_facts(obj: Any) -> Any:
    """``obj`` as plain JSON-able data without the :data:`RUNTIME_ONLY` keys (recursively)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = dataclasses.asdict(obj)
    if isinstance(obj, dict):
        return {str(k): identity_facts(v) for k, v in obj.items() if k not in RUNTIME_ONLY}
    if isinstance(obj, (list, tuple)):
        return [identity_facts(v) for v in obj]
    return obj


def run_digest(facts: Any, length: int = 16) -> str:
    """The identity of a run product: a hex digest of the facts that change its results.

    The one function that decides whether a cached product (features of a video, a run folder, a
    LOSO fold, a training checkpoint, an exported spotter) was made with the same settings: the
    facts (dataclasses, dicts, lists, plain values) are turned into canonical JSON without the
    :data:`RUNTIME_ONLY` keys and hashed with SHA-256.

    >>> run_digest({"lr": 5e-4, "device": "cuda"}) == run_digest({"lr": 5e-4, "device": "cpu"})
    True
    >>> run_digest({"lr": 5e-4}) == run_digest({"lr": 1e-3})
    False
    """
    import hashlib
    import json

    text = json.dumps(identity_facts(facts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def check_choice(where: str, value: Any, options: "tuple | list | set | dict") -> None:
    """Refuse a setting value outside ``options``, naming the setting and the valid values.

    >>> check_choice("FeatureConfig.flow", "dis", ("tvl1", "dis"))
    >>> check_choice("FeatureConfig.flow", "lk", ("tvl1", "dis"))
    Traceback (most recent call last):
    ...
    ValueError: FeatureConfig.flow = 'lk' is not a valid choice; choose one of ['tvl1', 'dis']
    """
    if value not in options:
        raise ValueError(f"{where} = {value!r} is not a valid choice; choose one of {list(options)}")


def check_threshold_factor(where: str, t: Any) -> float:
    """Refuse a spotting threshold factor outside ``(0, 1]``, naming the setting and the reason.

    ``t`` sets the threshold ``T = mean + t (max - mean)`` of the smoothed scores (Moilanen et
    al. 2014; the spotting stage of He, Chen & Zhong 2023, Fig. 1, uses :data:`PAPER_T`): ``t > 1`` puts
    T above every score, so nothing is spotted; ``t <= 0`` puts it at or below the mean, so almost
    every bump is.

    Args:
        where: the setting's name in the message (e.g. ``"SpotConfig.t"``, ``"--t"``).
        t: the value to check.

    Returns:
        ``t`` as a float.

    Raises:
        ValueError: ``t`` is not a number in ``(0, 1]``.

    >>> check_threshold_factor("--t", 0.6)
    0.6
    >>> check_threshold_factor("--t", 1.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: --t = 1.5 is outside (0, 1]: t is the threshold factor in T = mean + t (max - mean) ...
    """
    try:
        value = float(t)
    except (TypeError, ValueError):
        raise ValueError(f"{where} = {t!r} is not a number; the threshold factor t must be in (0, 1], "
                         f"e.g. the paper's {PAPER_T:.2f}") from None
    if not 0.0 < value <= 1.0:
        raise ValueError(f"{where} = {t!r} is outside (0, 1]: t is the threshold factor in "
                         "T = mean + t (max - mean) of the smoothed scores, so t > 1 spots nothing and "
                         f"t <= 0 spots almost every bump; the paper uses t = {PAPER_T:.2f}")
    return value


#: valid values of the named settings (each refused otherwise, with this list)
BOOLS = (False, True)
#: interval matching rules (slswin_lib.evaluation.MODES): the authors' code, MEGC one-to-one, the MEGC
#: 2020 baseline's (no one-to-one), many-to-one overlap and the MEGC 2024/2025 STRS spotting count
SPOT_MODES = ("authors", "megc", "megc2020", "overlap", "strs")
#: optical-flow methods (slswin_lib.features.flow.FLOW_METHODS)
FLOWS = ("tvl1", "tvl1_torch", "dis", "farneback")
K_FROM = ("all_subjects", "training_subjects")
ROI_LAYOUTS = ("paper", "one_box")
PX_SCALING = ("with_crop", "fixed")
POS_EMBED_INITS = ("trunc_normal", "normal")
VIT_VARIANTS = ("timm", "authors")
RECIPES = ("paper", "adamw")
SCHEDULES = ("pooled", "per_subject")
AUGMENT_STAGES = ("normalised", "raw")
PSEUDO_WINDOWS = ("k_plus_one", "k_frames")
LR_DECAYS = ("cosine", "one_cycle")
#: CPU kernels of a run's processes (slswin_lib.determinism): "native" (each library's best code for
#: this CPU) or "portable" (pinned, the same bits on every x86-64 CPU with AVX2)
CPU_KERNELS = ("native", "portable")


@dataclass(frozen=True)
class SpotConfig:
    """Spotting (paper Section 2.5) and evaluation (paper Section 3.2)."""

    #: threshold factor t in T = mean + t (max - mean); the paper's value.
    t: float = PAPER_T
    #: grid of t searched when t is selected on training subjects only (nested selection).
    t_grid: tuple[float, ...] = tuple(round(0.01 * i, 2) for i in range(1, 100))
    #: IoU rule: "authors" reproduces the published counts, "megc" is the MEGC rule; "megc2020" and
    #: "overlap" are the peers' rules without one-to-one matching, "strs" the MEGC 2024/2025 count
    #: (slswin_lib.evaluation)
    mode: str = "authors"
    #: whose annotations give k (half the mean expression length): "all_subjects" (the authors'
    #: code: the test subject's included) or "training_subjects" (each LOSO fold's own)
    k_from: str = "all_subjects"

    def __post_init__(self) -> None:
        check_choice("SpotConfig.mode", self.mode, SPOT_MODES)
        check_choice("SpotConfig.k_from", self.k_from, K_FROM)
        check_threshold_factor("SpotConfig.t", self.t)
        if not self.t_grid:
            raise ValueError("SpotConfig.t_grid is empty; give at least one threshold factor in (0, 1]")
        for i, value in enumerate(self.t_grid):
            check_threshold_factor(f"SpotConfig.t_grid[{i}]", value)


@dataclass(frozen=True)
class DataConfig:
    """Synthetic benchmark: sizes per profile, and the generator's event/distractor ranges.

    Pixel sizes ``*_px`` are at the 128 px face crop (scaled to the face size in the frame);
    ranges are ``(low, high)`` drawn uniformly (MaE durations log-uniformly).
    """

    fps: float = 30.0
    n_subjects: int = 4
    videos_per_subject: int = 1
    seconds_per_video: float = 20.0
    frame_size: int = 256
    seed: int = 0
    #: face box (landmark extent) as a fraction of the frame side, per subject
    face_fraction: tuple[float, float] = (0.42, 0.55)
    #: in-plane head pose of a subject, +- degrees
    pose_degrees: float = 8.0
    me_fraction: float = 0.4
    me_seconds: tuple[float, float] = (0.2, 0.5)
    me_px: tuple[float, float] = (0.3, 1.0)
    mae_seconds: tuple[float, float] = (0.5, 4.0)
    mae_px: tuple[float, float] = (1.5, 6.0)
    #: pause between consecutive expressions
    gap_seconds: tuple[float, float] = (1.0, 3.5)
    blink_every_seconds: tuple[float, float] = (2.0, 6.0)
    #: slow head drift: peak translation (px at the 128 crop) and rotation (degrees)
    drift_px: float = 3.0
    drift_degrees: float = 1.5
    #: sudden head movements: mean interval (s), size ranges
    head_move_every_seconds: float = 8.0
    head_move_px: tuple[float, float] = (2.0, 8.0)
    head_move_degrees: tuple[float, float] = (0.5, 3.0)
    #: per-frame lighting jitter (relative gain s.d.), sensor noise s.d. (grey levels), JPEG quality
    flicker: float = 0.004
    noise_sigma: tuple[float, float] = (0.8, 2.0)
    jpeg_quality: tuple[int, int] = (80, 95)
    #: processes rendering the videos (0: one per core); not part of the benchmark's identity
    workers: int = 0


@dataclass(frozen=True)
class FeatureConfig:
    """Feature extraction and preprocessing (paper Sections 2.1-2.2).

    Defaults are the paper's text; ``abs_uv=True``, ``roi_layout="one_box"`` and
    ``px_scaling="fixed"`` are the authors' code (:data:`FIDELITY`). Pixel sizes (``nose_box``,
    ``eye_grow``, ``roi_margin``) are given for the 128 px crop.
    """

    #: face crop side in pixels (128; 256 for the Table 6 variant)
    face_size: int = 128
    #: ROI side in the mosaic (21 -> 42 x 42 input; 42 -> 84 x 84)
    roi_size: int = 21
    #: flow method: "tvl1" (OpenCV) | "tvl1_torch" (the same, batched torch) | "dis" | "farneback"
    #: (slswin_lib.features.flow)
    flow: str = "tvl1"
    #: overrides of the flow method's OpenCV parameters as (name, value) pairs; () = defaults
    flow_params: tuple[tuple[str, Any], ...] = ()
    #: torch device of "tvl1_torch" ("cpu", "cuda", "cuda:1", ...); not part of the cache key
    flow_device: str = "cpu"
    #: frame pairs per device call of "tvl1_torch"; not part of the cache key
    flow_batch: int = 64
    #: run "tvl1_torch"'s inner iteration through torch.compile (1.2-2x the eager pairs/s at batch
    #: 4-64 on a CPU core, benchmarks/bench_features.py --tvl1-torch --compile); not in the cache key
    flow_compile: bool = False
    #: [code] variant: abs() of u and v after head-motion removal
    abs_uv: bool = False
    #: "paper": two eye/brow ROIs + mouth; "one_box": [code] one box over both brows/eyes
    roi_layout: str = "paper"
    #: pixel sizes (nose box, eye growth, ROI margin) at a larger crop (Table 6): "with_crop" scales
    #: them with ``face_size``; "fixed" keeps the 128 px values ([code])
    px_scaling: str = "with_crop"
    nose_box: int = 11
    eye_grow: int = 15
    roi_margin: int = 12
    #: face box = landmarks' bounding square times this factor
    crop_margin: float = 1.0
    #: "image": detect landmarks on every frame; "video": MediaPipe tracking (re-detect when lost)
    landmark_mode: str = "image"
    min_confidence: float = 0.5
    #: frame pairs per parallel task
    chunk: int = 64
    workers: int = 0  # 0: one process per CPU core

    def __post_init__(self) -> None:
        check_choice("FeatureConfig.abs_uv", self.abs_uv, BOOLS)
        check_choice("FeatureConfig.flow", self.flow, FLOWS)
        check_choice("FeatureConfig.roi_layout", self.roi_layout, ROI_LAYOUTS)
        if int(self.flow_batch) < 1:
            raise ValueError(f"FeatureConfig.flow_batch = {self.flow_batch} must be >= 1")
        check_choice("FeatureConfig.px_scaling", self.px_scaling, PX_SCALING)


@dataclass(frozen=True)
class ModelConfig:
    """Model choice (paper Section 2.3)."""

    #: registered model; its name ends in its input size (``_42``: the 42 x 42 mosaic of
    #: ``FeatureConfig.roi_size`` 21)
    name: str = "sl_swin_tiny_patch6_window7_42"
    #: input sizes whose Table 4 models notebook 03 sizes up (params, FLOPs).
    summary_sizes: tuple[int, ...] = (42, 84)
    #: initialisation of the learnable position embedding: "trunc_normal" (std 0.02, timm) or
    #: "normal" (std 1, [code])
    pos_embed_init: str = "trunc_normal"
    #: ViT-B / SL-ViT-B of Table 4: "timm" (head dim 64, qkv bias, drop-path 0.1) or "authors"
    #: ([code]: 12 heads of dim 16, no qkv bias, dropout 0.1, no drop-path)
    vit_variant: str = "timm"

    def __post_init__(self) -> None:
        check_choice("ModelConfig.pos_embed_init", self.pos_embed_init, POS_EMBED_INITS)
        check_choice("ModelConfig.vit_variant", self.vit_variant, VIT_VARIANTS)


#: memory of one fold worker before its fold (torch, slswin, the model) and its growth per training
#: sample while preparing the streamed fold and training it (indices, their temporaries, the model's
#: batch-48 working set spread over the samples): benchmarks/bench_scale.py --stage prepare measured
#: 1.02 GB before and +0.39 GB for the largest SAMM-LV MaE fold (303,495 samples, 42 x 42 input),
#: i.e. <= 1,290 bytes a sample (an idle re-run gave +0.54 GiB of RSS, the memory-mapped feature pages
#: read so far included: 1,330 bytes per counted sample, within the base's 80 MB slack); map_folds runs no more fold workers at once than fit in memory
FOLD_BASE_BYTES = 1_100_000_000
FOLD_BYTES_PER_SAMPLE = 1_300


@dataclass(frozen=True)
class TrainConfig:
    """Training (paper Section 3.3)."""

    epochs: int = 25
    batch_size: int = 48
    lr: float = 5e-4
    #: "pseudo" (the paper) or "original" labels (Table 5)
    labelling: str = "pseudo"
    seed: int = 0
    #: fraction of the non-expression samples kept in each training set (paper: 1/2)
    keep_negatives: float = 0.5
    #: three augmented copies (flip, blur, noise) of each positive sample, ME training only
    augment: bool = True
    blur_ksize: int = 7
    noise_std: float = 0.1
    #: cap on the training samples of one fold (None: all, the paper); a CPU-budget knob
    max_train_samples: int | None = None
    predict_batch_size: int = 256
    #: "auto" (CUDA when available), "cpu" or "cuda"
    device: str = "auto"
    #: folds trained at once on a local Dask cluster (1: in this process)
    fold_workers: int = 1
    #: loader processes reading training batches ahead of the model (0: read in the training process;
    #: None: 0 on the CPU, ``training.stream.CUDA_LOADER_WORKERS`` on a GPU, where reading and augmenting
    #: would otherwise starve it); not part of the run's identity
    loader_workers: int | None = None
    #: run the model's forward pass and loss under ``torch.autocast`` in bfloat16 (CUDA: the matrix
    #: products on tensor cores; no loss scaling is needed in bfloat16). Off: float32, the results every
    #: figure of this project was made with. Runtime-only, like ``device``: it changes the rounding of a
    #: run, not its recipe; ``python -m slswin_lib gpu-check`` measures what it gains
    autocast: bool = False
    #: train through ``torch.compile(model)`` (the checkpoint keeps the plain model's weights); off by
    #: default until measured on a GPU (``gpu-check``); runtime-only, like ``autocast``
    compile: bool = False
    #: optimisation recipe: "paper" (plain SGD at ``lr``, MSE, ``epochs`` over the data) or "adamw"
    #: (a CPU-practical one: AdamW, MSE, ``steps`` optimiser steps with warm-up and decay)
    recipe: str = "paper"
    #: "paper" recipe: SGD momentum (0: plain SGD, the paper)
    momentum: float = 0.0
    #: "adamw" recipe: the budget in optimiser steps (not epochs), split evenly over the subjects
    #: when ``schedule="per_subject"``
    steps: int = 400
    #: "adamw" recipe: peak learning rate and decoupled weight decay (1e-4: the best held-out AUC and
    #: lowest training loss of 1e-4, 3e-4, 1e-3 on the quick benchmark at 150 steps of batch 48;
    #: 1e-3 did not learn there; benchmarks/bench_recipes.py)
    adamw_lr: float = 1e-4
    weight_decay: float = 0.05
    #: "adamw" recipe: fraction of the steps spent warming the learning rate up from zero
    warmup_fraction: float = 0.1
    #: "adamw" recipe: decay after the warm-up, "cosine" (to zero) or "one_cycle" (torch's OneCycleLR)
    lr_decay: str = "cosine"
    #: held-out loss every this many optimiser steps when validation data are given (None: 10
    #: points over the budget)
    val_every: int | None = None
    #: "pooled": all training subjects shuffled together; "per_subject" ([code]): the training subjects
    #: one after another, ``epochs`` each with a fresh optimiser, the model carried over
    schedule: str = "pooled"
    #: where the ME augmentation is applied: "normalised" (after the per-sample min-max normalisation)
    #: or "raw" ([code]: on the raw features, then normalised)
    augment_stage: str = "normalised"
    #: pseudo-label window of sample i: "k_plus_one" (frames i .. i + k, the paper's text) or
    #: "k_frames" ([code]: frames i .. i + k - 1)
    pseudo_window: str = "k_plus_one"
    #: CPU kernels of every process of a run: "native" or "portable" (ATen's AVX2 code, oneDNN capped at
    #: AVX2, MKL's COMPATIBLE branch, numpy without AVX-512, one thread per fold: bit-identical results
    #: on every x86-64 CPU with AVX2, at the cost given at PORTABLE_KERNELS; slswin_lib.determinism).
    #: Like ``device``, not part of the run's identity
    cpu_kernels: str = "native"

    def __post_init__(self) -> None:
        check_choice("TrainConfig.recipe", self.recipe, RECIPES)
        check_choice("TrainConfig.schedule", self.schedule, SCHEDULES)
        check_choice("TrainConfig.augment_stage", self.augment_stage, AUGMENT_STAGES)
        check_choice("TrainConfig.pseudo_window", self.pseudo_window, PSEUDO_WINDOWS)
        check_choice("TrainConfig.lr_decay", self.lr_decay, LR_DECAYS)
        check_choice("TrainConfig.cpu_kernels", self.cpu_kernels, CPU_KERNELS)
        for name in ("epochs", "steps", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} = {getattr(self, name)} must be >= 1")
        if not 0.0 <= self.warmup_fraction < 1.0:
            raise ValueError(f"TrainConfig.warmup_fraction = {self.warmup_fraction} must lie in [0, 1)")
        if self.val_every is not None and self.val_every < 1:
            raise ValueError(f"TrainConfig.val_every = {self.val_every} must be >= 1 (or None)")


@dataclass(frozen=True)
class AblationConfig:
    """Budget of the ablation runs (Tables 4-6); the paper profile runs the full LOSO."""

    #: held-out subjects per ablation run: None = every subject (the full LOSO), n = the first n
    folds: int | None = None
    #: cap on the training samples of one fold (None: all)
    max_train_samples: int | None = None
    #: optimiser steps of one fold under the ``adamw`` recipe (None: the training section's)
    steps: int | None = None
    #: held-out loss every this many optimiser steps (None: the training section's); the ablation
    #: tables use the scores only, so the quick profile measures it every 30 steps (before training and
    #: at 30 and 60 steps) instead of every 6
    val_every: int | None = None
    #: Table 4 rows trained in this profile (display names of ``slswin_lib.models.TABLE4``)
    table4_models: tuple[str, ...] = ("ViT-B", "SL-ViT-B", "Swin-T", "L-Swin-T", "S-Swin-T", "SL-Swin-T")
    #: expression types of Table 6 (42 x 42 vs 84 x 84; the paper's is ME): notebook 08's default
    table6_types: tuple[str, ...] = ("me", "mae")
    #: run the fidelity ablation (one run per difference between the paper's text and the authors'
    #: code) in notebook 07 by default
    fidelity: bool = True

    def __post_init__(self) -> None:
        for name in ("folds", "max_train_samples", "steps", "val_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"AblationConfig.{name} = {value} must be >= 1 (or None)")
        check_choice("AblationConfig.fidelity", self.fidelity, BOOLS)
        for i, e in enumerate(self.table6_types):
            check_choice(f"AblationConfig.table6_types[{i}]", e, ("me", "mae"))


#: SOFTNet's registered model name (Liong et al., ICIP 2021; :mod:`slswin_lib.models.softnet`)
SOFTNET = "softnet"
#: SOFTNet's published threshold factor p ("0.55 achieved the highest F1-Score": picked on the test
#: results; genbing99/SoftNet-SpotME, training.py) [code]
SOFTNET_T = 0.55
#: SOFTNet's named training recipes, as ``TrainConfig`` overrides:
#: ``softnet_published``: the authors' (plain SGD, lr 5e-4, batch 12, 10 epochs, MSE, all training
#: subjects pooled and shuffled; genbing99/SoftNet-SpotME, training.py) [code];
#: ``softnet_cpu``: the CPU profiles' practical one, chosen at equal step budgets on the quick
#: benchmark (benchmarks/bench_recipes.py --model softnet --steps 300, 2 held-out subjects): AdamW
#: lr 1e-3, batch 48, cosine decay: held-out AUC MaE 0.890 / ME 0.566 (baseline 0.708 / 0.482); lr 3e-4
#: 0.889 / 0.571 and 3e-3 0.898 / 0.546 (lowest ME loss, overfits) are as good within the noise; the
#: published recipe learnt nothing in the same steps (MaE 0.532, ME 0.472, loss = the label variance)
SOFTNET_RECIPES: dict[str, dict[str, Any]] = {
    "softnet_published": {"recipe": "paper", "lr": 5e-4, "momentum": 0.0, "batch_size": 12, "epochs": 10,
                          "schedule": "pooled"},
    "softnet_cpu": {"recipe": "adamw", "adamw_lr": 1e-3, "weight_decay": 0.05, "lr_decay": "cosine",
                    "batch_size": 48, "schedule": "pooled"},
}


@dataclass(frozen=True)
class Profile:
    """Every setting of a run, one frozen section per stage.

    ``softnet`` is the training section of SOFTNet, the Table 2 peer trained beside SL-Swin (its
    recipe in this profile, :data:`SOFTNET_RECIPES`); :func:`peer_profile` turns a profile into
    the one SOFTNet runs under (``model.name = "softnet"``, ``train = softnet``, ``spot.t = 0.55``).
    """

    name: str
    spot: SpotConfig = field(default_factory=SpotConfig)
    data: DataConfig = field(default_factory=DataConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)
    softnet: TrainConfig = field(default_factory=lambda: TrainConfig(**SOFTNET_RECIPES["softnet_published"]))

    def replace(self, **sections: dict[str, Any]) -> "Profile":
        """Return a copy with some values of some sections replaced.

        >>> get_profile("smoke").replace(train={"epochs": 1}).train.epochs
        1
        """
        changes = {}
        for section, values in sections.items():
            current = getattr(self, section)
            changes[section] = dataclasses.replace(current, **values)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Fidelity:
    """One difference between the paper's text and the authors' code, and the setting choosing it.

    ``section`` is a :class:`Profile` section (``"features"``, ``"model"``, ``"train"``,
    ``"spot"``) and ``field`` one of its settings; ``paper_value`` / ``authors_value`` are that
    setting's values for the paper's text and for the authors' code.
    """

    detail: str
    paper_text: str
    authors_code: str
    section: str
    field: str
    paper_value: Any
    authors_value: Any

    @property
    def setting(self) -> str:
        """``"<section>.<field>"``, e.g. ``"features.abs_uv"``."""
        return f"{self.section}.{self.field}"

    def value(self, profile: "Profile") -> Any:
        """The value ``profile`` uses."""
        return getattr(getattr(profile, self.section), self.field)


#: every difference between the paper's text (He, Chen & Zhong 2023) and the authors' public code;
#: the source of :data:`AUTHORS_CODE`, :data:`PAPER_TEXT` and :func:`fidelity_table`
FIDELITY: tuple[Fidelity, ...] = (
    Fidelity("head motion", "subtract the nose-box mean",
             "subtract, then abs(u) and abs(v); strain unchanged",
             "features", "abs_uv", False, True),
    Fidelity("top ROIs", "two 21 x 21 boxes (left, right eye + brow) side by side",
             "one box over both brows/eyes resized to 42 x 21",
             "features", "roi_layout", "paper", "one_box"),
    Fidelity("84 x 84 variant (Table 6)", "everything doubled",
             "crop 256, but the 15 px eye growth, 12 px margin and nose box unscaled",
             "features", "px_scaling", "with_crop", "fixed"),
    Fidelity("training schedule", "not stated (read: all training subjects pooled, shuffled)",
             "per LOSO fold, the training subjects one after another: for each, 25 epochs on that "
             "subject's samples with a fresh SGD optimiser, the model carried over",
             "train", "schedule", "pooled", "per_subject"),
    Fidelity("ME augmentation", "flip, 7 x 7 blur, noise (read: on the normalised input, clipped to [0, 1])",
             "on the raw features (noise variance 0.01, clipped to [-1, 1]), then the per-sample "
             "min-max normalisation",
             "train", "augment_stage", "normalised", "raw"),
    Fidelity("pseudo-label window", "sample i covers [i, i + k]", "the k frames [i, i + k - 1]",
             "train", "pseudo_window", "k_plus_one", "k_frames"),
    Fidelity("position embedding", "learnable (read: truncated normal, std 0.02, as timm)",
             "initialised with a standard normal (std 1)",
             "model", "pos_embed_init", "trunc_normal", "normal"),
    Fidelity("ViT-B / SL-ViT-B (Table 4)", "ViT-B (read: timm's, head dimension 64, qkv bias, drop-path 0.1)",
             "12 heads of dimension 16 (inner dimension 192), no qkv bias, dropout 0.1, no drop-path",
             "model", "vit_variant", "timm", "authors"),
    Fidelity("k", "half the mean expression length (read: of the training subjects)",
             "computed over all subjects' annotations, the test subject's included",
             "spot", "k_from", "training_subjects", "all_subjects"),
)


def _section_values(which: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for row in FIDELITY:
        out.setdefault(row.section, {})[row.field] = getattr(row, which)
    return out


#: section overrides that give the authors' code in every :data:`FIDELITY` row (``Profile.replace(**AUTHORS_CODE)``)
AUTHORS_CODE: dict[str, dict[str, Any]] = _section_values("authors_value")
#: section overrides that give the paper's text in every :data:`FIDELITY` row
PAPER_TEXT: dict[str, dict[str, Any]] = _section_values("paper_value")
def with_softnet(profile: Profile, recipe: str, **values: Any) -> Profile:
    """``profile`` with its ``softnet`` section set to its ``train`` section under the named recipe.

    Every setting outside the recipe (labels, sampling, augmentation, device, fold workers) is the
    profile's own, so SOFTNet and SL-Swin are trained on the same samples; ``values`` override
    further (e.g. the ``adamw`` step budget).
    """
    check_choice("SOFTNet recipe", recipe, SOFTNET_RECIPES)
    return dataclasses.replace(profile, softnet=dataclasses.replace(profile.train,
                                                                    **{**SOFTNET_RECIPES[recipe], **values}))


#: where the CPU profiles (smoke, quick) depart from the authors' code: one pooled training set
#: (a training budget; the data processing stays the authors')
CPU_TRAINING: dict[str, dict[str, Any]] = {"train": {"schedule": "pooled"}}
#: the smoke profile's kernels (issue 28): pinned, so that the tests give the same bits on every x86-64
#: CPU with AVX2 (slswin_lib.determinism: the pins and the evidence; tests/test_determinism.py's golden
#: fit). quick and paper keep each library's native CPU kernels: pinned, quick's hour would grow by ~21 min
#: (below), so its rows may differ between CPUs in the last digits (README: the measured spread); run
#: ``./run_all.sh --portable`` for the pinned bits. Cost, measured side by side on a 2-core AMD EPYC loaded
#: by other runs (benchmarks/bench_determinism.py --cost, medians of 3 rounds, batch 48, one thread): a
#: SOFTNet step x1.10 (26 -> 29 ms), an SL-Swin-T step x1.94 (411 -> 797 ms) and its prediction x2.08
#: (2.6 -> 5.3 ms a sample; MKL's COMPATIBLE branch: SSE2 matrix products), rendering x1.08, features
#: x1.00. The quick run's training and prediction (bench_budget.py's measured costs over quick's runs):
#: 22.5 -> 43.7 min; every pin but MKL's (which alone keeps Intel and AMD CPUs apart) costs ~2 min
PORTABLE_KERNELS: dict[str, dict[str, Any]] = {"train": {"cpu_kernels": "portable"}}
#: suffix of the paper-text variant's name (``"quick-paper_text"``)
PAPER_TEXT_SUFFIX = "-paper_text"

#: expression events a profile's synthetic benchmark must hold at least (notebook 00 asserts it; a
#: profile not named holds what its sizes give): quick is sized to CAS(ME)^2's 57 ME and half its 300
#: MaE (issue 23), so that a LOSO fold trains on about 50 ME (at 13 ME no model learned ME)
MIN_EVENTS: dict[str, dict[str, int]] = {"quick": {"me": 57, "mae": 150}}

_PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        data=DataConfig(n_subjects=3, videos_per_subject=1, seconds_per_video=8.0, frame_size=192),
        features=FeatureConfig(flow="dis"),
        train=TrainConfig(recipe="adamw", steps=4, epochs=1, batch_size=16, max_train_samples=64,
                          predict_batch_size=128),
        ablation=AblationConfig(folds=1, max_train_samples=32, steps=2),
        model=ModelConfig(summary_sizes=(42,)),
    ).replace(**AUTHORS_CODE).replace(**CPU_TRAINING).replace(**PORTABLE_KERNELS),
    "quick": Profile(
        name="quick",
        # sized to CAS(ME)^2's expression counts (issue 23: >= 57 ME, >= 150 MaE in all) with the
        # difficulty settings unchanged: 6 x 145 s holds 96 ME and 155 MaE (counted by
        # slswin_lib.data.synthetic.count_events; the smallest 6-subject length, 140 s, has 151 MaE,
        # one above the bound; 2 x 72 s per subject 98 / 152, 7 x 120 s 83 / 154 at one more fold)
        data=DataConfig(n_subjects=6, videos_per_subject=1, seconds_per_video=145.0),
        # DIS: 10x the frames/s of OpenCV's default TV-L1 here, with a lower end-point error
        # on the synthetic benchmark (benchmarks/bench_features.py); the paper profile keeps TV-L1
        features=FeatureConfig(flow="dis"),
        # CPU budget: <= 1200 training samples per fold, two folds at a time, 120 AdamW steps of
        # ~0.55-0.67 s at batch 48 on one thread (MaE held-out AUC 0.86 at 100 steps, 0.88 at 150;
        # benchmarks/bench_recipes.py)
        train=TrainConfig(recipe="adamw", steps=120, max_train_samples=1200, fold_workers=2),
        # ViT-B costs ~50x the FLOPs of Swin-T at 42 x 42 (~18 min per fold here): its two
        # Table 4 rows run in the smoke (to test them) and paper profiles, not in quick
        # ablations: 2 held-out subjects, half the main run's steps (Tables 4-6 and the fidelity ablation
        # are about a dozen runs), held-out loss every 30 steps (every 6 it took 12 % of an ablation fold)
        ablation=AblationConfig(folds=2, max_train_samples=600, steps=60, val_every=30,
                                table4_models=("Swin-T", "L-Swin-T", "S-Swin-T", "SL-Swin-T"),
                                # the scope decision of issue 28, applied in its order because the cold run
                                # stayed above 60 min on 2 cores without them: Table 6 on ME only (its MaE
                                # column: the 84 x 84 MaE features and runs), no fidelity ablation (one
                                # run per difference); `./run_all.sh --full` runs both
                                table6_types=("me",), fidelity=False),
    ).replace(**AUTHORS_CODE).replace(**CPU_TRAINING),
    "paper": Profile(
        name="paper",
        data=DataConfig(n_subjects=22, videos_per_subject=4, seconds_per_video=90.0),
        # flow: OpenCV's TV-L1 ("tvl1"), the paper's. The batched torch TV-L1 ("tvl1_torch") meets
        # the agreement bound (EPE within 0.01 px of OpenCV's on the synthetic benchmark,
        # benchmarks/bench_features.py --tvl1-torch) but is not OpenCV's flow bit for bit (mean
        # |difference| 0.007 px), so this profile keeps OpenCV's; for speed (a GPU, or a CPU with
        # flow_compile) use .replace(features={"flow": "tvl1_torch", "flow_device": "cuda"})
        features=FeatureConfig(),
        train=TrainConfig(epochs=25, batch_size=48, lr=5e-4),
    ).replace(**AUTHORS_CODE),
}
#: SOFTNet's recipe per profile: the published one on the paper profile; on the CPU profiles the
#: practical one, with these optimiser steps per fold: a SOFTNet step at batch 48 on one thread costs
#: 1/21 of an SL-Swin-T step (293 ms vs 6293 ms on a 2-core machine loaded by other runs:
#: benchmarks/bench_recipes.py --model softnet --step-cost), so in SL-Swin-T's 120 steps it could take
#: ~2500. Quick gives it 2000 (the cost of ~95 SL-Swin-T steps): on the 6 x 145 s benchmark (4 training
#: subjects, 2 held out) its held-out ME AUC was 0.501 at 250 steps, 0.585 at 1000 and 0.607 at 2000
#: (benchmarks/bench_recipes.py --model softnet --recipes softnet_cpu --expressions me --steps 250 1000 2000);
#: MaE AUC was 0.89 at 300 steps on the 6 x 30 s benchmark
SOFTNET_STEPS = {"smoke": 8, "quick": 2000}
PROFILES: dict[str, Profile] = {
    "smoke": with_softnet(_PROFILES["smoke"], "softnet_cpu", steps=SOFTNET_STEPS["smoke"], batch_size=16),
    "quick": with_softnet(_PROFILES["quick"], "softnet_cpu", steps=SOFTNET_STEPS["quick"]),
    "paper": with_softnet(_PROFILES["paper"], "softnet_published"),
}


def peer_profile(profile: "str | Profile", peer: str = SOFTNET) -> Profile:
    """The profile a Table 2 peer runs under: ``model.name = peer``, ``train`` = the profile's
    ``softnet`` section (its recipe), ``spot.t`` = the peer's published threshold factor.

    >>> p = peer_profile("paper")
    >>> p.model.name, p.train.recipe, p.train.batch_size, p.train.epochs, p.spot.t
    ('softnet', 'paper', 12, 10, 0.55)
    """
    check_choice("peer", peer, (SOFTNET,))
    p = resolve_profile(profile)
    return dataclasses.replace(p.replace(model={"name": SOFTNET}, spot={"t": SOFTNET_T}), train=p.softnet)


def resolve_profile(profile: "str | Profile", overrides: Mapping[str, Mapping[str, Any]] | None = None
                    ) -> Profile:
    """A profile by name (or as given), with optional per-section overrides.

    This is the one path by which a notebook's parameters or a command-line option change a
    profile's settings: ``overrides`` maps a section to the values to replace, e.g.
    ``resolve_profile("quick", {"spot": {"t": 0.5}})``; every override is validated like the
    profile itself (an unknown section, field or value is refused).
    """
    p = get_profile(profile) if isinstance(profile, str) else profile
    if overrides:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(Profile)} - {"name"})
        if unknown:
            raise ValueError(f"unknown profile section(s) {unknown}; choose from "
                             f"{[f.name for f in dataclasses.fields(Profile) if f.name != 'name']}")
        for section, values in overrides.items():
            fields = {f.name for f in dataclasses.fields(getattr(p, section))}
            bad = sorted(set(values) - fields)
            if bad:
                raise ValueError(f"profile section {section!r} has no setting(s) {bad}; known: {sorted(fields)}")
        p = p.replace(**{s_: dict(v) for s_, v in overrides.items()})
    return p


def paper_text(profile: "Profile | str") -> Profile:
    """The variant of ``profile`` that follows the paper's text in every :data:`FIDELITY` row.

    >>> p = paper_text("quick")
    >>> p.name, p.features.abs_uv, p.features.flow
    ('quick-paper_text', False, 'dis')
    """
    p = resolve_profile(profile).replace(**PAPER_TEXT)
    return dataclasses.replace(p, name=p.name + PAPER_TEXT_SUFFIX)


def fidelity_variants(profile: "Profile | str") -> dict[str, Profile]:
    """The runs of a fidelity ablation: what each difference from the paper's text costs.

    Returns:
        ``{"authors_code": profile, <setting>: profile with only that setting switched to the paper's
        text (named "<profile>-paper_text-<field>"), ..., "paper_text": paper_text(profile)}``; rows
        in which ``profile`` already follows the paper's text (e.g. quick's pooled schedule) get no
        variant of their own.
    """
    p = resolve_profile(profile)
    out = {"authors_code": p}
    for row in FIDELITY:
        if row.value(p) != row.paper_value:
            variant = p.replace(**{row.section: {row.field: row.paper_value}})
            out[row.setting] = dataclasses.replace(variant, name=f"{p.name}{PAPER_TEXT_SUFFIX}-{row.field}")
    out["paper_text"] = paper_text(p)
    return out


def _cell(row: Fidelity, value: Any) -> str:
    return f"{value} ({'code' if value == row.authors_value else 'text'})"


def fidelity_table(profiles: "tuple[Profile | str, ...]" = ("smoke", "quick", "paper")):
    """Every :data:`FIDELITY` row with the value each profile uses, read from the settings.

    Args:
        profiles: profile names or :class:`Profile` objects, one column each.

    Returns:
        pandas.DataFrame, one row per setting; columns ``detail``, ``paper text``,
        ``authors' code``, one per profile (its value, tagged "(code)" or "(text)"), ``setting``.
    """
    import pandas as pd

    ps = [resolve_profile(p) for p in profiles]
    rows = []
    for row in FIDELITY:
        rows.append({"detail": row.detail, "paper text": row.paper_text, "authors' code": row.authors_code,
                     **{p.name: _cell(row, row.value(p)) for p in ps}, "setting": row.setting})
    return pd.DataFrame(rows, columns=["detail", "paper text", "authors' code", *[p.name for p in ps],
                                       "setting"])


def fidelity_markdown(profiles: "tuple[Profile | str, ...]" = ("smoke", "quick", "paper")) -> str:
    """:func:`fidelity_table` as a GitHub markdown table."""
    return fidelity_table(profiles).to_markdown(index=False)


def get_profile(name: str) -> Profile:
    """Return the named profile: ``smoke``, ``quick``, ``paper``, or a fidelity variant of one of
    them (``"<profile>-paper_text"``, ``"<profile>-paper_text-<field>"``, see :func:`fidelity_variants`)."""
    if name in PROFILES:
        return PROFILES[name]
    base = name.split("-", 1)[0]
    variants = {v.name: v for v in fidelity_variants(PROFILES[base]).values()} if base in PROFILES else {}
    if name in variants:
        return variants[name]
    raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}, or a fidelity variant "
                     f"'<profile>{PAPER_TEXT_SUFFIX}' / '<profile>{PAPER_TEXT_SUFFIX}-<field>'"
                     + (f" (for {base!r}: {sorted(variants)})" if variants else ""))
