"""Spotted intervals in the MEGC submission format: reading, refusals, per-type evaluation, threshold grids."""
import numpy as np
import pandas as pd
import pytest

from slswin_lib.evaluation import Counts, bootstrap_f1, match_video
from slswin_lib.intervals import (check_intervals, counts_at, evaluate_intervals, grid_counts, read_intervals,
                                  read_videos, select_loso, type_by_length)

GT_CSV = "video,onset,offset,type\na,0,9,me\na,40,79,mae\nb,5,12,me\nc,100,160,mae\n"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture
def gt(tmp_path):
    return read_intervals(_write(tmp_path, "gt.csv", GT_CSV), ground_truth=True)


def test_reads_the_megc_submission_columns_and_types(tmp_path):
    path = _write(tmp_path, "cas_pred.csv", "vid,pred_onset,pred_offset,type\na,1,9,me\na,45,80,MaE\n")
    pred = read_intervals(path)
    assert pred[["video", "onset", "offset", "type", "row"]].values.tolist() == [["a", 1, 9, "me", 1],
                                                                                 ["a", 45, 80, "mae", 2]]
    assert pred["onset"].dtype == np.int64 and pred.attrs["duplicates"] == 0


def test_type_by_length_is_the_peers_rule():
    assert type_by_length([0, 0, 0], [14, 15, 16], 15).tolist() == ["me", "me", "mae"]


@pytest.mark.parametrize("text, kw, message", [
    ("video,onset\na,1\n", {}, r"p.csv: lacks column\(s\) \['offset', 'type'\]"),
    ("video,onset,offset\na,1,5\n", {}, r"give a type column \(me/mae\) or type the intervals by length"),
    ("video,onset,offset,type\na,1,5,me\n", {"max_me_length": 15}, "has a type column and was asked to type"),
    ("video,onset,offset,type\na,1,5,me\nb,9,3,me\n", {}, r"p.csv: row 2 \(video b\): onset 9 > offset 3; swap them"),
    ("video,onset,offset,type\na,1,5,me\na,-2,5,me\n", {}, r"p.csv: row 2: onset -2 is negative"),
    ("video,onset,offset,type\na,1,5.5,me\n", {}, r"p.csv: row 1: offset 5.5 is not an integer frame"),
    ("video,onset,offset,type\na,x,5,me\n", {}, r"p.csv: row 1: onset 'x' is not a number"),
    ("video,onset,offset,type\na,,5,me\n", {}, r"p.csv: row 1: onset is missing; frames are 0-based"),
    ("video,onset,offset,type\na,1,5,micro\n", {}, r"row 1 \(video a\): type 'micro' is not 'me' or 'mae'"),
    ("video,onset,offset,type\n,1,5,me\n", {}, "row 1: the video name is empty"),
    ("video,onset,offset,type\na,1,5,me\nb,1,5,me\na,1,5,me\na,1,5,me\n", {},
     r"p.csv: 2 duplicate row\(s\) \(first: row 3, video a, \[1, 5\] me\); remove them, or keep"),
    ("video,onset,offset,type,score\na,1,5,me,high\n", {}, "row 1: score 'high' is not a number"),
])
def test_bad_input_names_file_row_and_fix(tmp_path, text, kw, message):
    with pytest.raises(ValueError, match=message):
        read_intervals(_write(tmp_path, "p.csv", text), **kw)


def test_integer_valued_frames_are_accepted(tmp_path):
    pred = read_intervals(_write(tmp_path, "p.csv", "video,onset,offset,type\na,1.0,5,me\n"))
    assert pred["onset"].tolist() == [1]


def test_ground_truth_needs_a_type(tmp_path):
    with pytest.raises(ValueError, match="a ground-truth table needs a type per interval"):
        read_intervals(_write(tmp_path, "g.csv", "video,onset,offset\na,1,5\n"), ground_truth=True)


def test_duplicates_kept_or_dropped_are_counted(tmp_path, gt):
    path = _write(tmp_path, "p.csv", "video,onset,offset,type\na,0,9,me\na,0,9,me\n")
    kept = read_intervals(path, duplicates="keep")
    dropped = read_intervals(path, duplicates="drop")
    assert (len(kept), kept.attrs["duplicates"]) == (2, 1) and (len(dropped), dropped.attrs["duplicates"]) == (1, 1)
    # a kept copy is a second prediction: a false positive under the MEGC rule
    table, _ = evaluate_intervals(kept, gt, modes=["megc"], n_resamples=0)
    assert table.loc[("megc", "me"), ["TP", "FP"]].tolist() == [1, 1] and table.attrs["duplicates"] == 1
    table, _ = evaluate_intervals(dropped, gt, modes=["megc"], n_resamples=0)
    assert table.loc[("megc", "me"), ["TP", "FP"]].tolist() == [1, 0]
    with pytest.raises(ValueError, match="duplicates = 'merge'"):
        read_intervals(path, duplicates="merge")


def test_unknown_video_is_refused_unless_listed(tmp_path, gt):
    pred = read_intervals(_write(tmp_path, "p.csv", "video,onset,offset,type\na,0,9,me\nz,0,9,me\n"))
    with pytest.raises(ValueError, match=r"p.csv: row 2: video 'z' has no ground truth and is not among the videos "
                                         r"without intervals \(1 such row\(s\)\); fix its name, or list it"):
        evaluate_intervals(pred, gt, n_resamples=0)
    videos = read_videos(_write(tmp_path, "v.csv", "video\nz\nd\n"))
    assert videos == ["z", "d"]
    table, per_video = evaluate_intervals(pred, gt, videos=videos, modes=["megc"], n_resamples=0)
    assert table.attrs["videos"] == 5 and table.loc[("megc", "me"), ["TP", "FP", "FN"]].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="lacks a 'video' column"):
        read_videos(_write(tmp_path, "w.csv", "name\nz\n"))
    with pytest.raises(FileNotFoundError, match="nope.csv does not exist"):
        read_intervals(tmp_path / "nope.csv")


def test_per_type_and_overall_under_every_rule_by_hand(tmp_path, gt):
    # a: ME [0, 9] found by [1, 9] (IoU 0.9) and again by its copy [0, 8] (0.9); MaE [40, 79] by [45, 80] (35/41);
    # b: ME [5, 12] missed, [30, 35] spotted; c: MaE [100, 160] missed, no prediction; d: a listed video, nothing
    path = _write(tmp_path, "p.csv", "video,onset,offset\na,1,9\na,0,8\na,45,80\nb,30,35\n")
    pred = read_intervals(path, max_me_length=15)
    table, per_video = evaluate_intervals(pred, gt, videos=["d"], modes=["megc", "authors", "megc2020", "strs"],
                                          n_resamples=0)
    counts = {key: tuple(row) for key, row in table[["TP", "FP", "FN", "TP_pred"]].iterrows()}
    assert counts[("megc", "me")] == (1, 2, 1, 1) and counts[("megc", "mae")] == (1, 0, 1, 1)
    assert counts[("megc", "overall")] == (2, 2, 2, 2)
    # authors: every video without a spotted interval of a type adds a FP of that type (ME: c, d; MaE: b, c, d)
    assert counts[("authors", "me")] == (1, 4, 1, 1) and counts[("authors", "mae")] == (1, 3, 1, 1)
    # megc2020: ME a found (2 scoring predictions), b not
    assert counts[("megc2020", "me")] == (1, 1, 1, 2)
    # strs: only a and b have ME truth (c, d not evaluated for ME); the copy [0, 8] finds g taken: FP
    assert counts[("strs", "me")] == (1, 2, 1, 1)
    assert table.loc[("strs", "me"), "videos"] == 2 and table.loc[("megc", "me"), "videos"] == 4
    f1 = table.loc[("megc", "overall"), "F1"]
    assert f1 == pytest.approx(Counts(2, 2, 2).f1)
    # per-video counts: the megc ME rows of a and b are the hand-computed ones
    me = per_video[(per_video["mode"] == "megc") & (per_video["type"] == "me")].set_index("video")
    assert me.loc["a", ["TP", "FP", "FN"]].tolist() == [1, 1, 0]
    assert me.loc["b", ["TP", "FP", "FN"]].tolist() == [0, 1, 1]


def test_overall_interval_resamples_a_video_once(tmp_path, gt):
    pred = read_intervals(_write(tmp_path, "p.csv", "video,onset,offset,type\na,0,9,me\na,40,79,mae\nb,30,35,me\n"))
    table, per_video = evaluate_intervals(pred, gt, modes=["megc"], n_resamples=999)
    megc = per_video[per_video["mode"] == "megc"]
    by_video = megc.groupby("video")[["TP", "FP", "FN"]].sum().reset_index()
    expected = bootstrap_f1(by_video, n_resamples=999)
    row = table.loc[("megc", "overall")]
    assert (row["F1"], row["F1 low"], row["F1 high"]) == pytest.approx((expected.f1, expected.low, expected.high))
    assert row["F1 low"] <= row["F1"] <= row["F1 high"] and row["videos"] == 3


def test_min_score_keeps_the_confident_intervals(tmp_path, gt):
    pred = read_intervals(_write(tmp_path, "p.csv", "video,onset,offset,type,score\na,0,9,me,0.9\nb,30,35,me,0.2\n"))
    table, _ = evaluate_intervals(pred, gt, modes=["megc"], min_score=0.5, n_resamples=0)
    assert table.loc[("megc", "me"), ["TP", "FP", "FN"]].tolist() == [1, 0, 1] and table.attrs["spotted"] == 1
    no_score = read_intervals(_write(tmp_path, "q.csv", "video,onset,offset,type\na,0,9,me\n"))
    with pytest.raises(ValueError, match="min_score needs a score column"):
        evaluate_intervals(no_score, gt, min_score=0.5)


def test_grid_counts_match_evaluating_each_threshold(tmp_path, gt):
    rng = np.random.default_rng(4)
    rows = [(v, int(a), int(a) + int(n), float(s)) for v in "abc" for a, n, s in
            zip(rng.integers(0, 150, 6), rng.integers(3, 40, 6), rng.random(6))]
    pred = check_intervals(pd.DataFrame(rows, columns=["video", "onset", "offset", "score"]), max_me_length=15,
                           duplicates="keep")
    grid = [0.1, 0.3, 0.5, 0.7]
    counts = grid_counts(pred, gt, ["a", "b", "c"], grid, ["megc", "authors"], max_per_video=4, strictly_above=True)
    for mode in ("megc", "authors"):
        for gi, s in enumerate(grid):
            for vi, v in enumerate("abc"):
                kept = pred[(pred["video"] == v) & (pred["score"] > s)].head(4)
                for ei, e in enumerate(("me", "mae")):
                    p = kept[kept["type"] == e][["onset", "offset"]].to_numpy()
                    g = gt[(gt["video"] == v) & (gt["type"] == e)][["onset", "offset"]].to_numpy()
                    c, _ = match_video(p, g, mode)
                    assert counts[mode][vi, gi, ei].tolist() == [c.tp, c.fp, c.fn, c.tp_p]


def test_select_loso_never_uses_the_held_out_subject():
    # 4 subjects x 1 video, 2 candidates, 1 type; s1 is found at candidate 0 only, the others at candidate 1 only
    subjects = ["s1", "s2", "s3", "s4"]
    c = np.zeros((4, 2, 1, 4), dtype=np.int64)
    c[:, :, 0] = (0, 0, 1, 0)                     # missed by default
    c[0, 0, 0] = (1, 0, 0, 1)
    c[1:, 1, 0] = (1, 0, 0, 1)
    chosen = select_loso(c, subjects)
    assert chosen == {"s1": 1, "s2": 1, "s3": 1, "s4": 1}   # s1's own best (0) is never seen when s1 is held out
    held_out = counts_at(c, subjects, chosen)
    assert held_out[:, 0].tolist() == [[0, 0, 1, 0], [1, 0, 0, 1], [1, 0, 0, 1], [1, 0, 0, 1]]
    # with s1 and s2 only, each is chosen by the other alone; ties (all F1 0) go to the first candidate
    assert select_loso(c[:2], subjects[:2]) == {"s1": 1, "s2": 0}
    assert select_loso(np.zeros((2, 3, 1, 4), dtype=np.int64), ["a", "b"]) == {"a": 0, "b": 0}
    # per type: the second type's candidates reversed, so its choice is the other candidate
    per_type = select_loso(np.concatenate([c, c[:, ::-1]], axis=2), subjects, pooled=False)
    assert per_type["s2"].tolist() == [1, 0]


def test_docstring_examples_run():
    import doctest

    import slswin_lib.intervals

    result = doctest.testmod(slswin_lib.intervals, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0
