"""Resampling units, per-unit counts and paired F1 differences (slswin_lib.comparison)."""
import numpy as np
import pandas as pd
import pytest

from slswin_lib.comparison import (F1Difference, choose_units, counts_of, paired_difference, set_unit_counts,
                                   spotted_at, spotted_nested, unit_counts, video_frames)
from slswin_lib.evaluation import MODES, bootstrap_f1, evaluate


def test_few_videos_are_split_into_time_blocks_many_are_kept_whole():
    few = choose_units({"a": 4350, "b": 4351}, 30.0)
    assert few.kind == "time blocks" and few.block_frames == {"a": 300, "b": 300}
    assert few.blocks_of("a") == 15 and few.blocks_of("b") == 15 and few.n == 30   # 4351 frames: a 1-frame block merged
    assert few.unit_of("b", 4350) == 14
    assert few.describe() == "30 time blocks of 10 s (2 videos)"
    many = choose_units({f"v{i}": 100 for i in range(10)}, None)
    assert many.kind == "videos" and many.n == 10 and many.unit_of("v3", 99) == 0
    with pytest.raises(ValueError, match="pass fps"):
        choose_units({"a": 100}, None)
    with pytest.raises(ValueError, match="fps = 0.0 must be > 0"):
        choose_units({"a": 100}, 0.0)


def test_unit_counts_by_hand():
    # one 600-frame video, two 300-frame blocks; megc: the hit in block 0, the miss (GT at 320) and the false
    # positive (at 400) in block 1; a TP whose prediction starts in block 0 and ground truth in block 1
    units = choose_units({"a": 600}, 30.0)
    spotted = {"a": np.array([[10, 19], [400, 409], [298, 307]])}
    gt = {"a": np.array([[10, 19], [320, 329], [300, 309]])}
    table = unit_counts(spotted, gt, "megc", units)
    assert table[["block", "TP", "FP", "FN", "TP_pred"]].to_numpy().tolist() == [[0, 1, 0, 0, 2], [1, 1, 1, 1, 0]]
    # the authors' placeholder: a video without a spotted interval adds one false positive, in its first block
    empty = unit_counts({"a": np.empty((0, 2))}, gt, "authors", units)
    assert empty[["FP", "FN"]].to_numpy().tolist() == [[1, 1], [0, 2]]


@pytest.mark.parametrize("mode", MODES)
def test_unit_counts_add_up_to_every_rules_counts(mode):
    rng = np.random.default_rng(3)
    frames = {f"v{i}": 900 for i in range(4)}
    spotted, gt = {}, {}
    for v in frames:
        on = rng.integers(0, 880, 8)
        gt[v] = np.stack([on, on + rng.integers(3, 15, 8)], axis=1)
        jitter = rng.integers(-3, 4, (8, 2))
        spotted[v] = np.clip(np.concatenate([gt[v][:5] + jitter[:5], gt[v][:2]]), 0, 899)   # some duplicates
        spotted[v] = np.sort(spotted[v], axis=1)
    spotted["v3"] = np.empty((0, 2), np.int64)
    units = choose_units(frames, 30.0)
    table = unit_counts(spotted, gt, mode, units)
    total, per_video = evaluate(spotted, gt, mode)
    assert len(table) == units.n == 12
    assert (int(table["TP"].sum()), int(table["FP"].sum()), int(table["FN"].sum()), int(table["TP_pred"].sum())) == \
        (total.tp, total.fp, total.fn, total.tp_p)
    assert counts_of(table).f1 == pytest.approx(total.f1)
    by_video = table.groupby("video")[["TP", "FP", "FN"]].sum()
    assert by_video.to_numpy().tolist() == per_video.set_index("video")[["TP", "FP", "FN"]].to_numpy().tolist()


def _blocks(tp, fp, fn):
    return pd.DataFrame({"video": "a", "block": range(len(tp)), "TP": tp, "FP": fp, "FN": fn, "TP_pred": tp})


def test_identical_methods_never_resolve():
    rng = np.random.default_rng(0)
    a = _blocks(rng.integers(0, 3, 20), rng.integers(0, 3, 20), rng.integers(0, 3, 20))
    d = paired_difference(a, a.copy(), n_resamples=999)
    assert (d.diff, d.low, d.high, d.resolved) == (0.0, 0.0, 0.0, False)


def test_a_method_that_finds_every_event_beats_one_that_finds_none_over_20_blocks():
    events = np.ones(20, dtype=int)
    finds_all = _blocks(events, np.zeros(20, int), np.zeros(20, int))
    finds_none = _blocks(np.zeros(20, int), np.zeros(20, int), events)
    d = paired_difference(finds_all, finds_none, n_resamples=999)
    assert d.diff == 1.0 and d.resolved and d.low > 0
    assert paired_difference(finds_none, finds_all, n_resamples=999).high < 0
    assert "resolved, all above none" in d.describe("all", "none")


def test_a_small_difference_on_noisy_blocks_is_not_resolved_and_pairing_narrows_the_interval():
    rng = np.random.default_rng(1)
    hard = rng.integers(0, 4, 30)                 # events per block; both methods find the same most of the time
    tp_a = np.minimum(hard, rng.integers(0, 3, 30))
    tp_b = tp_a.copy()
    tp_b[:2] = np.maximum(tp_b[:2] - 1, 0)         # b misses one or two more
    a = _blocks(tp_a, rng.integers(0, 2, 30), hard - tp_a)
    b = _blocks(tp_b, a["FP"].to_numpy(), hard - tp_b)
    d = paired_difference(a, b, n_resamples=1999, seed=2)
    ia, ib = bootstrap_f1(a, n_resamples=1999, seed=2), bootstrap_f1(b, n_resamples=1999, seed=2)
    assert d.low <= d.diff <= d.high
    assert d.high - d.low < (ia.high - ia.low) + (ib.high - ib.low)


def test_tables_over_other_units_are_refused():
    a = _blocks([1, 0], [0, 0], [0, 1])
    with pytest.raises(ValueError, match="same units"):
        paired_difference(a, a.iloc[:1])
    with pytest.raises(ValueError, match="lacks column"):
        paired_difference(a, a.drop(columns="FN"))


def test_released_scores_units_are_videos_and_overall_adds_the_types(released):
    frames = video_frames(released)
    units = choose_units(frames, None)
    assert units.kind == "videos" and units.n == len(frames)
    spotted = {e: spotted_at(s, 0.6) for e, s in released.items()}
    tables = set_unit_counts(released, spotted, "authors", units)
    assert set(tables) == {"me", "mae", "overall"}
    assert [counts_of(tables[e]).tp for e in ("me", "mae", "overall")] == [12, 70, 82]   # the published counts
    assert counts_of(tables["overall"]).fp == 462
    nested, t_of = spotted_nested(released["me"], [0.5, 0.6, 0.7], "authors")
    assert set(nested) == set(released["me"].keys) and set(t_of.values()) <= {0.5, 0.6, 0.7}


def test_f1_difference_describes_itself():
    assert F1Difference(-0.05, -0.09, -0.01, 0.95, 30).describe("a", "b").endswith("resolved, b above a")
    assert F1Difference(0.01, -0.02, 0.05, 0.95, 30).describe("a", "b").endswith("not resolved")
