"""The training-free optical-flow spotter (slswin_lib.trainfree): each step on hand-made signals with
hand-computed results, the ROI signals on hand-made frames (head motion cancelled by the nose tip, a
blink-only clip gives no ME), bad input, its Table 2 rows on hand-made results, and the settings table of
docs/method.md in sync with slswin_lib.config."""
from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from slswin_lib.config import OF_SPOT, OFSpotConfig, SpotConfig
from slswin_lib.trainfree.of_analysis import (analyse_signal, analysis_params, expand, keep_lengths, merge,
                                              merge_twice, next_step, peak_intervals, split, types_of)
from slswin_lib.trainfree.of_signals import (OFError, face_scale, flow_computer, shifted, signal_names,
                                             window_signals)
from slswin_lib.trainfree.ofspot import OFResult, OFTooShort, analyse_track

#: the source's settings at face scale 1 and 30 fps (brows' rise threshold 1.925 px)
P = analysis_params(OF_SPOT, "brows", 1.0, 30.0)
DOC = Path(__file__).resolve().parent.parent / "docs" / "method.md"


def _bump(n: int = 120) -> np.ndarray:
    """A flat curve with one triangular bump of height 3 on samples 30..40."""
    curve = np.zeros(n)
    curve[30:41] = [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.5, 1.0, 0.5]
    return curve


# -- the signal analysis, on hand-made curves ----------------------------------------------------
def test_resolved_settings_scale_pixels_and_frames():
    assert (P.candidate, P.rise, P.emd_rise, P.run_gap, P.valley_reach) == (1.4, 1.925, 0.8, 3, 30)
    half = analysis_params(OF_SPOT, "mouth", 0.5, 15.0, sensitivity=2.0)  # face half as large, 15 fps, gain 2
    assert (half.candidate, half.rise, half.expand_valley) == pytest.approx((1.4, 1.85, 0.3))
    assert (half.valley_reach, half.split_min, half.split_margin, half.run_gap) == (15, 10, 4, 2)
    with pytest.raises(ValueError, match="no rise threshold for ROI group 'cheeks'"):
        analysis_params(OF_SPOT, "cheeks", 1.0, 30.0)


def test_peak_test_keeps_the_samples_that_rise_enough():
    # candidates (>= 1.4 above the minimum): 32..38, one run; its last sample is not tested; of 32..37
    # those rising more than 1.925 above the minimum within +-30 samples: 33..37 (2.0 .. 2.0)
    curve = _bump()
    assert peak_intervals(curve, P, curve).tolist() == [[33, 37]]
    # the detrended curve must rise more than 0.8 too: at a third of the curve only 34..36 do (0.83, 1, 0.83)
    assert peak_intervals(curve, P, curve / 3).tolist() == [[34, 36]]
    # nothing reaches the candidate level: no interval, and the detrended curve is never asked for
    assert peak_intervals(curve * 0.4, P, lambda: pytest.fail("EMD computed without a candidate")).shape == (0, 2)


def test_expansion_walks_down_to_the_bump_feet():
    # start: the window minimum lies left of 33, so walk left until within 0.33 of the way from the
    # valley (0) to the peak (3): 31 (1.0) is not, 30 (0.5) is -> 30; end: the window minimum lies left
    # too (sample 7), so the valley within 10 samples right of 37 is 41 (0), 2.0 below -> 41 - 1 = 40
    assert expand(np.array([[33, 37]]), _bump(), P).tolist() == [[30, 40]]


def test_splitting_at_a_deep_dip():
    curve = np.zeros(70)
    curve[10:51] = np.interp(np.arange(10, 51), [10, 20, 30, 40, 50], [0.5, 3.0, 0.5, 3.0, 0.5])
    # dip at 30 (0.5): 3.0 - 0.5 = 2.5 > max(0.7, 0.33 * 3.0) on both sides -> two intervals around it
    assert split(np.array([[10, 50]]), curve, P).tolist() == [[10, 29], [31, 50]]
    shallow = np.where(curve > 0, np.maximum(curve, 2.5), 0)     # dip only 0.5 below the peaks
    assert split(np.array([[10, 50]]), shallow, P).tolist() == [[10, 50]]
    assert split(np.array([[10, 28]]), curve, P).tolist() == [[10, 28]]   # shorter than split_min = 20


def test_merging_in_order_and_twice():
    # [8, 30] overlaps [0, 10] by 2 = 0.2 of [0, 10] > 0.1: joined; [49, 60] overlaps [40, 50] by 1 =
    # 0.1 of it, not more: kept; a zero-length interval joins nothing
    assert merge(np.array([[0, 10], [8, 30], [40, 50], [49, 60], [45, 45]]), 0.1).tolist() == [
        [0, 30], [40, 50], [49, 60], [45, 45]]
    # one interval joins every earlier one it overlaps enough; those two stay apart until the second pass
    once = merge(np.array([[0, 10], [20, 30], [5, 25]]), 0.1)
    assert once.tolist() == [[0, 25], [5, 30]]
    assert merge_twice(np.array([[0, 10], [20, 30], [5, 25]]), 0.1).tolist() == [[0, 30]]


def test_the_whole_analysis_of_one_signal():
    # two bumps on a slow ramp (the ramp is the EMD's trend); the filtered curve is given as computed
    t = np.arange(198)
    curve = 0.005 * t
    for centre in (50, 140):
        curve = curve + 3.0 * np.exp(-0.5 * ((t - centre) / 4.0) ** 2)
    found = analyse_signal(None, P, 30.0, OF_SPOT, curve=curve)
    # one interval per bump, in samples of the untrimmed signal (the curve's sample i is the signal's i + 1):
    # each holds its bump's apex and lies within 3.5 sigma of it (where the bump is above 0.007 px)
    assert len(found) == 2
    for (a, b), centre in zip(found, (50, 140)):
        assert centre + 1 - 14 <= a < centre + 1 < b <= centre + 1 + 14, found


def test_window_placement_avoids_an_expression_over_the_middle():
    def step(*intervals):
        return next_step(np.array(intervals, dtype=np.int64).reshape(-1, 2), 200, 30.0, OF_SPOT)

    assert step() == 100                          # half a window
    assert step((20, 60), (120, 180)) == 100      # nothing over the middle
    assert step((90, 130)) == 150                 # ends before 150: 20 after its end
    assert step((60, 170)) == 40                  # starts after 50: 20 before its start
    assert step((20, 185)) == 195                 # else 10 after its end
    assert step((20, 195)) == 199                 # at most the window's last sample
    # at 15 fps every frame count halves: middle 50, 75 instead of 150, 10 after the end instead of 20
    assert next_step(np.array([[45, 60]]), 100, 15.0, OF_SPOT) == 70


def test_length_limits_and_types():
    iv = np.array([[0, 11], [0, 12], [0, 15], [0, 16], [0, 200], [0, 201]])
    kept = keep_lengths(iv, 30.0, OF_SPOT)
    assert kept.tolist() == [[0, 12], [0, 15], [0, 16], [0, 200]]
    assert types_of(kept, 30.0, OF_SPOT).tolist() == ["me", "me", "mae", "mae"]
    # at the SAMM-LV rate (every 7th of 200 fps): 15 frames at 30 fps are 14 analysed samples
    assert types_of(np.array([[0, 14], [0, 15]]), 200 / 7, OF_SPOT).tolist() == ["me", "mae"]


# -- the ROI signals, on hand-made frames --------------------------------------------------------
@pytest.fixture(scope="module")
def smoke_track():
    from slswin_lib.config import get_profile
    from slswin_lib.experiment import open_dataset
    from slswin_lib.trainfree.ofspot import cached_track

    ds = open_dataset("smoke")
    return ds, cached_track(ds["s02_0507"], get_profile("smoke").features)


def test_head_motion_is_cancelled_by_the_nose_tip(smoke_track):
    """A whole crop moving smoothly by (2, -1.3) px, a head translation that the per-frame face box missed:
    each region's own flow sees it, the signals (after the alignment, the nose tip's motion removed) stay
    below every region's rise threshold, and the analysis finds no interval."""
    from slswin_lib.trainfree.of_signals import layout, signal_groups, top_mean

    _, track = smoke_track
    ref = track.crops[0]
    offsets = np.stack([np.linspace(0, 2.0, 60), np.linspace(0, -1.3, 60)], axis=1)
    crops = np.stack([ref] + [shifted(ref, -o) for o in offsets[1:]])
    scale = face_scale(track.pts68[:1], np.zeros(1, bool), OF_SPOT)
    flow = flow_computer(OF_SPOT, scale)
    y0, y1, x0, x1 = layout(track.pts68[0], OF_SPOT, scale, ref.shape[0]).regions[2].box    # the mouth
    raw = flow(np.ascontiguousarray(ref[y0:y1, x0:x1]), np.ascontiguousarray(crops[-1][y0:y1, x0:x1]))
    assert np.hypot(*top_mean(raw, 0.3)) > 1.8                  # the mouth moved with the head (2.4 px)
    signals, head, missing = window_signals(crops, np.zeros(60, bool), track.pts68[0], OF_SPOT, scale, flow)
    assert missing == 0 and signals.shape == (16, 60) and signals[:, 0].tolist() == [0.0] * 16
    rise = {g: analysis_params(OF_SPOT, g, scale, 30.0) for g in dict(OF_SPOT.rise_px)}
    for signal, group in zip(signals, signal_groups(OF_SPOT)):
        assert signal.max() < rise[group].rise, (group, signal.max(), rise[group].rise)
        assert analyse_signal(signal, rise[group], 30.0, OF_SPOT).shape == (0, 2)


def test_bad_input_names_the_video_and_frame(smoke_track):
    _, track = smoke_track
    scale = face_scale(track.pts68, track.missing, OF_SPOT)
    crops = track.crops[:10]

    class NanAt:
        """A flow of zeros (per frame one nose-tip call, no alignment, then four region calls) with NaN in its
        ``nan``-th call on."""

        def __init__(self, nan: int) -> None:
            self.calls, self.nan = 0, nan

        def __call__(self, prev, nxt):
            self.calls += 1
            return np.full(prev.shape + (2,), np.nan if self.calls >= self.nan else 0.0, np.float32)

    with pytest.raises(OFError, match=r"clip_x: frame 105: the flow from frame 100 is not finite \(signal 'left brow'\)"):
        window_signals(crops, np.zeros(10, bool), track.pts68[0], OF_SPOT, scale, NanAt(4 * 5 + 2), key="clip_x",
                       frames=np.arange(100, 110))
    with pytest.raises(OFError, match=r"clip_x: frame 105: the flow from frame 100 is not finite \('nose tip'"):
        window_signals(crops, np.zeros(10, bool), track.pts68[0], OF_SPOT, scale, NanAt(4 * 5 + 1), key="clip_x",
                       frames=np.arange(100, 110))
    missing = np.zeros(10, bool)
    missing[4] = True
    signals, _, n_missing = window_signals(crops, missing, track.pts68[0], OF_SPOT, scale,
                                           flow_computer(OF_SPOT, scale))
    assert n_missing == 1 and np.isfinite(signals).all()
    assert np.allclose(signals[:, 4], (signals[:, 3] + signals[:, 5]) / 2)     # from its neighbours
    missing[0] = True
    with pytest.raises(OFError, match=r"clip_y: frame 0, a window's reference, has no face"):
        window_signals(crops, missing, track.pts68[0], OF_SPOT, scale, flow_computer(OF_SPOT, scale), key="clip_y")
    short = SimpleNamespace(crops=track.crops[:59], pts68=track.pts68[:59], boxes=track.boxes[:59],
                            missing=track.missing[:59])
    with pytest.raises(OFTooShort, match=r"short: 59 frames \(59 analysed at 30 fps\) are fewer than the optical-flow "
                                         r"spotter's shortest window of 60 frames \(2.0 s\)"):
        analyse_track(short, 30.0, key="short")
    with pytest.raises(OFError, match=r"nofps: the frame rate is unknown \(None\); give it"):
        analyse_track(track, None, key="nofps")
    blind = SimpleNamespace(crops=track.crops, pts68=track.pts68, boxes=track.boxes, missing=np.ones(len(track.crops), bool))
    with pytest.raises(OFError, match="blind: no frame has a face"):
        analyse_track(blind, 30.0, key="blind")


def _blink_clip(ds, n: int = 75):
    """A still face (the first frame of a smoke video) that only blinks, twice: frames rendered with the
    benchmark's own blink bumps (slswin_lib.data.synthetic), no expression, no head motion."""
    from slswin_lib.data.synthetic import load_motion, render_frame
    from slswin_lib.features.tracking import ArrayVideo

    video = ds["s01_0101"]
    m = load_motion(video)
    head0 = m["head"][0]
    base = video.frame(0).astype(np.float32)
    centres = m["centres"] @ head0[:, :2].T + head0[:, 2]
    bumps = {"centres": centres, "sigmas": m["sigmas"], "vectors": m["vectors"] @ head0[:, :2].T}
    blink = np.flatnonzero(m["bump_aus"] == "blink")
    amps = np.zeros((n, len(m["bump_aus"])))
    env = np.zeros(n)
    for start in (15, 50):                                   # two blinks of 7 frames
        env[start:start + 7] = np.sin(np.linspace(0, np.pi, 7))
    amps[:, blink] = env[:, None] * 0.9 * m["sigmas"][blink].min()
    identity = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    frames = [np.clip(render_frame(base, identity, bumps, a) + 0.5, 0, 255).astype(np.uint8) for a in amps]
    return ArrayVideo("blinks", frames, 30.0), env


def test_a_blink_only_clip_gives_no_micro_expression(smoke_track, tmp_path):
    from slswin_lib.deploy import spot_video

    ds, _ = smoke_track
    clip, env = _blink_clip(ds)
    assert np.array_equal(clip.frame(30), clip.frame(0))          # nothing moves between the blinks
    assert not np.array_equal(clip.frame(18), clip.frame(0))      # the lids do in them
    table = spot_video(clip, scorer="of_spotter", spotters=tmp_path, profile="smoke", progress=False)
    assert table.attrs["choice"]["me"]["scorer"] == "of_spotter"
    assert (table["type"] == "me").sum() == 0, table


# -- Table 2 rows, on hand-made results ----------------------------------------------------------
def _result(key: str, spotted: list[tuple[int, int, str]], f: float) -> OFResult:
    iv = np.array([s[:2] for s in spotted], dtype=np.int64).reshape(-1, 2)
    n = len(iv)
    return OFResult(key, 30.0, 300, f, iv, np.array([s[2] for s in spotted]), iv[:, 0], np.ones(n), np.zeros(300),
                    np.zeros((1, 2), np.int64), {})


def test_table2_rows_source_settings_and_nested_sensitivity():
    """The rows beside a hand-made reference method (three one-subject videos of 300 frames, one MaE
    each): counts at the source's settings and with the nested sensitivity, hand-computed."""
    from slswin_lib.report import megc2021_table
    from slswin_lib.scores import ScoreSet
    from slswin_lib.trainfree.benchmark import NESTED_LABEL, OF_METHOD, SOURCE_LABEL, add_of_rows

    cfg = OFSpotConfig(sensitivity_grid=(0.5, 1.0, 2.0))
    # ground truth [100, 149] in each video; a: found only at 0.5, b: only at 2.0, c: only at 1.0
    hit, miss = [(100, 149, "mae")], [(10, 59, "mae")]
    table_of = {"a": {0.5: hit, 1.0: miss, 2.0: miss}, "b": {0.5: miss, 1.0: miss, 2.0: hit},
                "c": {0.5: miss, 1.0: hit, 2.0: miss}}
    results = {k: {f: _result(k, v, f) for f, v in row.items()} for k, row in table_of.items()}
    videos = pd.DataFrame({"subject": list("abc"), "video_code": ["1"] * 3, "n_frames": [300] * 3, "k": [10] * 3,
                           "video": list("abc")})
    gt = pd.DataFrame({"subject": list("abc"), "video_code": ["1"] * 3, "onset": [100] * 3, "offset": [149] * 3,
                       "video": list("abc")})
    reference = ScoreSet({v: np.zeros(290) for v in "abc"}, videos, gt, "flat mae")   # spots nothing
    spot_cfg = SpotConfig(mode="megc")
    comparison = megc2021_table({"flat": {"mae": reference}}, spot_cfg, modes=("megc",), fps=30.0)
    table = add_of_rows(comparison, results, {"mae": reference}, spot_cfg, cfg, modes=("megc",)).table
    assert list(table.index.unique("method")) == ["flat", OF_METHOD]
    source = table.loc[(OF_METHOD, SOURCE_LABEL, "megc", "mae")]
    assert (source["TP"], source["FP"], source["FN"]) == (1, 2, 2)       # only c at the source's thresholds
    nested = table.loc[(OF_METHOD, NESTED_LABEL, "megc", "mae")]
    # held out a: b and c tie at one TP each for 1.0 and 2.0 -> the first, 1.0: a missed; held out b: a, c
    # give 0.5 and 1.0 one each -> 0.5: b missed; held out c: 0.5 -> c missed. Nothing found.
    assert (nested["TP"], nested["FP"], nested["FN"]) == (0, 3, 3)
    assert nested["sensitivity"] == pytest.approx((1.0 + 0.5 + 0.5) / 3)
    assert np.isnan(nested["t"]) and nested["F1 low"] <= nested["F1"] <= nested["F1 high"]
    # paired differences to the reference (F1 0): at the source's settings F1 = 2 TP / (2 TP + FP + FN) = 1/3
    assert source["diff"] == pytest.approx(1 / 3) and source["diff low"] <= source["diff"] <= source["diff high"]
    assert nested["diff"] == 0.0 and source["units"] == "3 time blocks of 10 s (3 videos)"


# -- the settings table of docs/method.md ----------------------------------------------------------
def _block(text: str, name: str) -> str:
    m = re.search(rf"<!-- {name}:start -->\n(.*?)\n<!-- {name}:end -->", text, re.S)
    assert m, f"docs/method.md has no <!-- {name}:start/end --> block"
    return m.group(1)


def test_the_settings_table_of_the_docs_is_the_config():
    from slswin_lib.trainfree.benchmark import roi_markdown, settings_markdown

    doc = DOC.read_text()
    fix = "regenerate it: python -c 'from slswin_lib.trainfree import settings_markdown as s; print(s())'"
    assert _block(doc, "of-settings") == settings_markdown(), fix
    assert _block(doc, "of-rois") == roi_markdown(), fix
    # the thresholds are the source's (CAS(ME)^2 values of spot_util_casme.py and its helpers)
    assert (OF_SPOT.candidate_px, dict(OF_SPOT.rise_px), OF_SPOT.emd_rise_px) == (1.4, {"brows": 1.925, "mouth": 1.85,
                                                                                     "nose": 2.10}, 0.8)
    assert (OF_SPOT.expand_valley_px, OF_SPOT.split_dip_px, OF_SPOT.merge_overlap) == (0.3, 0.7, 0.1)
    assert (OF_SPOT.window, OF_SPOT.min_length, OF_SPOT.max_length, OF_SPOT.me_max_length) == (200, 12, 200, 15)
    assert OF_SPOT.sensitivity == 1.0 and 1.0 in OF_SPOT.sensitivity_grid
    assert len(signal_names(OF_SPOT)) == 16
