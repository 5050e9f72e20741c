"""Short clips: maxima at a clip's edges, one label per expression, clips too short to spot, and the
method ``spot`` chooses by default.

The rules are checked on hand-made score arrays with hand-computed intervals; end-to-end checks spot
clips of the smoke benchmark whose macro-expression starts in their first frames or runs past their end,
with the default choice (no run: the optical-flow spotter) and with the baseline.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from slswin_lib.deploy import (BASELINE_T_SOURCE, INTERVAL_COLUMNS, TypeSpotting, VideoSpotting,
                               plot_video_spotting, respot, spot_report, spot_video,
                               summary_lines)
from slswin_lib.spotting import covered_by, smooth_scores, spot, spot_smoothed

# k = 2, window 4: smoothed = [4, 3.75, 3.25, 2.5, 1.5, 0.75, 0.25, 0, 0], maximum at the first sample
FALLING = np.array([4, 4, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0], dtype=float)


def test_maximum_at_the_first_frames():
    assert smooth_scores(FALLING, 4).tolist() == [4, 3.75, 3.25, 2.5, 1.5, 0.75, 0.25, 0, 0]
    paper = spot(FALLING, k=2, t=0.6)
    assert paper.intervals.shape == (0, 2) and paper.peaks.tolist() == []
    edge = spot(FALLING, k=2, t=0.6, edges="include")
    assert edge.peaks.tolist() == [0] and edge.apexes.tolist() == [2]
    assert edge.intervals.tolist() == [[0, 4]] and edge.peak_heights.tolist() == [4.0]
    assert edge.threshold == paper.threshold


def test_maximum_at_the_last_frames():
    rising = FALLING[::-1].copy()                      # 12 scores: a video of 14 frames at k = 2
    assert spot(rising, k=2, t=0.6).intervals.tolist() == []
    edge = spot(rising, k=2, t=0.6, edges="include")
    assert edge.peaks.tolist() == [8] and edge.apexes.tolist() == [10]
    assert edge.intervals.tolist() == [[8, 12]]        # inside the video's frames 0..13


def test_interior_peaks_and_the_sweep_default_are_unchanged():
    bump = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0], dtype=float)
    for edges in ("paper", "include"):
        assert spot(bump, k=2, t=0.6, edges=edges).intervals.tolist() == [[4, 8]]
    # a plateau reaching both ends: the paper's rule finds nothing, the edge rule one peak in its middle
    flat = smooth_scores(np.ones(12), 4)
    assert spot_smoothed(flat, 2, 0.6).intervals.tolist() == []
    assert spot_smoothed(flat, 2, 0.6, edges="include").peaks.tolist() == [4]
    # the t sweep calls spot_smoothed without edges: the paper's rule
    sm = smooth_scores(FALLING, 4)
    assert spot_smoothed(sm, 2, 0.6).intervals.tolist() == []
    with pytest.raises(ValueError, match="edges = 'both' is not a valid choice"):
        spot(FALLING, k=2, edges="both")


def test_coverage_hand_computed():
    cover = covered_by(np.array([[10, 14], [14, 18], [15, 19], [28, 32]]), np.array([[8, 16], [30, 60]]))
    assert cover.tolist() == pytest.approx([1.0, 0.6, 0.4, 0.6])
    assert covered_by(np.array([[1, 3]]), np.empty((0, 2))).tolist() == [0.0]


def _report(n_frames: int, me_scores: np.ndarray, mae_scores: np.ndarray, k_me: int, k_mae: int) -> VideoSpotting:
    def ts(e, k, scores):
        return TypeSpotting(e, "baseline", "hand-made", k, k, 30.0, 0.6, BASELINE_T_SOURCE, scores, None)

    types = {"me": ts("me", k_me, me_scores), "mae": ts("mae", k_mae, mae_scores)}
    return VideoSpotting("hand", "", 30.0, n_frames, types, pd.DataFrame(columns=INTERVAL_COLUMNS))


def _overlapping_pair() -> VideoSpotting:
    """40 frames; MaE (k = 4) spotted at [8, 16]; ME (k = 2) at [10, 14] (inside it) and [28, 32]."""
    mae = np.zeros(36)
    mae[8:16] = 1.0
    me = np.zeros(38)
    me[10:14] = 1.0
    me[28:32] = 1.0
    return _report(40, me, mae, 2, 4)


def test_one_label_per_expression():
    raw = respot(_overlapping_pair(), edges="paper", keep_overlaps=True)
    got = {e: g[["pred_onset", "pred_offset"]].to_numpy().tolist() for e, g in raw.table.groupby("type")}
    assert got == {"me": [[10, 14], [28, 32]], "mae": [[8, 16]]} and len(raw.dropped) == 0

    one = respot(_overlapping_pair(), edges="include", keep_overlaps=False)
    got = {e: g[["pred_onset", "pred_offset"]].to_numpy().tolist() for e, g in one.table.groupby("type")}
    assert got == {"me": [[28, 32]], "mae": [[8, 16]]}
    assert one.dropped[["type", "pred_onset", "pred_offset", "apex"]].to_numpy().tolist() == [["me", 10, 14, 12]]
    assert list(one.table.columns) == INTERVAL_COLUMNS
    lines = summary_lines(one)
    assert lines[0].startswith("ME: hand-made; k = 2") and BASELINE_T_SOURCE in lines[0]
    assert "one label per expression" in lines[-1] and "(1 dropped)" in lines[-1] and "edge maxima" in lines[-1]


def test_clip_too_short_for_one_type_is_a_note_not_an_error():
    import matplotlib.pyplot as plt

    # 10 frames: MaE k = 4 gives 6 scores < 2k = 8; ME k = 2 gives 8 scores >= 4
    me = np.array([0, 0, 1, 1, 1, 1, 0, 0], dtype=float)
    r = respot(_report(10, me, np.arange(6.0), 2, 4), edges="include", keep_overlaps=False)
    assert r.types["mae"].result is None
    assert "10 frames give 6 scores, fewer than the smoothing window 2k = 8" in r.types["mae"].note
    assert "at least 3k = 12 frames" in r.types["mae"].note
    assert r.types["me"].note == "" and r.table[["type", "pred_onset", "pred_offset"]].to_numpy().tolist() == [
        ["me", 2, 6]]
    fig = plot_video_spotting(r)
    assert len(fig.axes) == 2 and "MAE by baseline" in fig.axes[1].get_title()
    plt.close(fig)


def _clip(key: str, start: int, stop: int):
    """(ArrayVideo of frames [start, stop) of a smoke video, its events in clip frames)."""
    from slswin_lib.experiment import open_dataset
    from slswin_lib.features.extract import ArrayVideo

    video = open_dataset("smoke")[key]
    events = [(e.type, max(e.onset, start) - start, min(e.offset, stop - 1) - start)
              for e in video.events if e.offset >= start and e.onset < stop]
    return ArrayVideo(f"smoke_{key}_{start}_{stop}", list(video.frames(start, stop)), 30.0), events


def _iou(a, b) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    return max(inter, 0) / (max(a[1], b[1]) - min(a[0], b[0]) + 1)


@pytest.mark.parametrize("key, start, stop, smile", [
    ("s02_0507", 170, 240, (3, 47)),     # a macro-expression from the clip's 4th frame (70 frames)
    ("s03_0101", 89, 161, (17, 71)),     # one from frame 17 to the end of a 72-frame clip, like a smile
])
def test_the_default_choice_on_a_short_clip(tmp_path, key, start, stop, smile):
    """Without a run (an empty spotters folder), ``spot`` uses the optical-flow spotter: a MaE interval
    overlapping the expression, no ME inside it, and intervals.json says why."""
    clip, events = _clip(key, start, stop)
    assert events == [("mae", *smile)]
    table = spot_video(clip, out_dir=tmp_path / "out", spotters=tmp_path, profile="smoke", progress=False)
    meta = json.loads((tmp_path / "out" / "intervals.json").read_text())
    assert {e: (d["scorer"], d["sensitivity"]) for e, d in meta["types"].items()} == {
        "me": ("of_spotter", 1.0), "mae": ("of_spotter", 1.0)}
    assert meta["types"]["mae"]["choice"]["reason"].startswith(f"no benchmark ranking in {tmp_path}")
    assert {c["scorer"] for c in meta["types"]["me"]["choice"]["candidates"]} == {"of_spotter", "baseline"}
    csv = pd.read_csv(tmp_path / "out" / "intervals.csv")
    assert list(csv.columns) == INTERVAL_COLUMNS and set(csv["scorer"]) <= {"of_spotter"}
    mae = csv[csv["type"] == "mae"][["pred_onset", "pred_offset"]].to_numpy().tolist()
    assert any(_iou(m, smile) >= 0.5 for m in mae), mae
    me = csv[csv["type"] == "me"][["pred_onset", "pred_offset"]].to_numpy().tolist()
    assert not [m for m in me if m[1] >= smile[0] and m[0] <= smile[1]], me
    assert len(table) == len(csv) and meta["n_frames"] == stop - start


def test_the_baseline_on_a_short_clip(tmp_path):
    """A 70-frame clip (2.3 s) of the smoke benchmark whose macro-expression starts at its 4th frame,
    spotted by the baseline (forced)."""
    clip, events = _clip("s02_0507", 170, 240)
    assert events == [("mae", 3, 47)]
    table = spot_video(clip, out_dir=tmp_path, scorer="baseline", spotters=tmp_path, profile="smoke", progress=False)
    meta = json.loads((tmp_path / "intervals.json").read_text())
    assert meta["n_frames"] == 70 and meta["rules"]["edges"] == "include" and not meta["rules"]["keep_overlaps"]
    assert {e: (d["k"], d["t"], d["t_source"], d["scorer"]) for e, d in meta["types"].items()} == {
        "me": (6, 0.6, BASELINE_T_SOURCE, "baseline"), "mae": (18, 0.6, BASELINE_T_SOURCE, "baseline")}
    assert meta["types"]["me"]["choice"]["reason"] == "forced (--scorer baseline)"
    csv = pd.read_csv(tmp_path / "intervals.csv")
    assert {e: d["n_reported"] for e, d in meta["types"].items()} == {
        e: int((csv["type"] == e).sum()) for e in ("me", "mae")}
    assert len(meta["dropped"]) == len(table.attrs["dropped"])
    assert (csv["pred_onset"] >= 0).all() and (csv["pred_offset"] <= 69).all()
    # the maximum at the first smoothed sample (IoU with [3, 47] = 34 / 48); the ME the baseline finds at
    # the onset lies inside it and is dropped
    assert csv[["type", "pred_onset", "pred_offset"]].to_numpy().tolist() == [["mae", 0, 36]]
    assert [(d["type"], d["pred_onset"], d["pred_offset"]) for d in meta["dropped"]] == [("me", 4, 16)]
    # the paper's rules on the same scores: the ME at the onset, no MaE
    paper = respot(spot_report(clip, scorer="baseline", spotters=tmp_path, profile="smoke", progress=False),
                   edges="paper", keep_overlaps=True)
    assert paper.table[["type", "pred_onset", "pred_offset"]].to_numpy().tolist() == [["me", 4, 16]]
