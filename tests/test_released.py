"""The authors' released CAS(ME)^2 scores give the published counts exactly (paper Tables 2-3)."""
import json
import subprocess
import sys
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from slswin_lib.config import SpotConfig
from slswin_lib.evaluation import Counts, metrics_table
from slswin_lib.scores import (ScoreSet, load_score_set, read_submission, released_expected,
                               released_score_set, select_t_loso, spot_score_set, t_sweep,
                               write_submission)

REF = resources.files("slswin_lib") / "reference" / "casme2"


@pytest.fixture(scope="session")
def released():
    return {e: released_score_set(e) for e in ("me", "mae")}


def test_released_set_sizes(released):
    assert len(released["me"].keys) == 33 and len(released["me"].gt) == 57
    assert len(released["mae"].keys) == 88 and len(released["mae"].gt) == 298
    assert len(released["me"].subjects) == 14 and len(released["mae"].subjects) == 20


def test_published_counts_authors_mode(released):
    counts = {e: spot_score_set(released[e], 0.60, "authors")[0] for e in ("me", "mae")}
    assert counts["me"] == Counts(12, 204, 45)
    assert counts["mae"] == Counts(70, 258, 228)
    table = metrics_table(counts)
    assert table.loc["overall", ["TP", "FP", "FN"]].tolist() == [82, 462, 273]
    expected = released_expected()
    for row in ("me", "mae", "overall"):
        assert round(table.loc[row, "F1"], 4) == expected.loc[row, "F1"]


def test_megc_mode_counts(released):
    # the MEGC rule (IoU >= 0.5, maximum matching, no placeholder FP) on the same spots
    assert spot_score_set(released["me"], 0.60, "megc")[0] == Counts(13, 203, 44)
    assert spot_score_set(released["mae"], 0.60, "megc")[0] == Counts(71, 256, 227)


def test_cli_spot_eval_json():
    cmd = [sys.executable, "-m", "slswin_lib", "spot-eval", "--scores", str(REF / "scores_me.npz"),
           "--videos", str(REF / "videos_me.csv"), "--gt", str(REF / "gt_me.csv"),
           "--t", "0.6", "--mode", "authors", "--json"]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    assert (out["TP"], out["FP"], out["FN"]) == (12, 204, 45)
    assert round(out["F1"], 4) == 0.0879
    assert round(out["precision"], 4) == 0.0556 and round(out["recall"], 4) == 0.2105


def test_cli_reports_missing_video(tmp_path):
    cmd = [sys.executable, "-m", "slswin_lib", "spot-eval", "--scores", str(REF / "scores_me.npz"),
           "--videos", str(REF / "videos_mae.csv"), "--gt", str(REF / "gt_mae.csv")]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    assert proc.returncode == 2
    assert "has no scores for video s15_0101" in proc.stderr


def test_t_sweep_matches_single_spotting(released):
    sweep = t_sweep(released["me"], [0.5, 0.6, 0.7], "authors").set_index("t")
    assert sweep.loc[0.6, ["TP", "FP", "FN"]].tolist() == [12, 204, 45]
    c = spot_score_set(released["me"], 0.7, "authors")[0]
    assert sweep.loc[0.7, ["TP", "FP", "FN"]].tolist() == [c.tp, c.fp, c.fn]


def test_loso_threshold_never_looks_at_the_test_subject(released):
    grid = SpotConfig().t_grid[::7]
    table, folds = select_t_loso({"me": released["me"]}, grid, "authors")
    s = released["me"]
    for subject in s.subjects[:3]:
        others = [x for x in s.subjects if x != subject]
        sweep = t_sweep(s.subset(others), grid, "authors")
        best_t = sweep.loc[sweep["F1"].idxmax(), "t"]   # idxmax: first (smallest) t among ties
        fold = folds.set_index("subject").loc[subject]
        assert fold["t"] == best_t
        held_out = spot_score_set(s.subset([subject]), best_t, "authors")[0]
        assert [fold["TP"], fold["FP"], fold["FN"]] == [held_out.tp, held_out.fp, held_out.fn]
    assert table.loc["me", "TP"] == folds["TP"].sum()


def _tiny_set(**changes):
    videos = pd.DataFrame({"subject": ["s1", "s2"], "video_code": ["0101", "0101"],
                           "n_frames": [30, 30], "k": [2, 2]})
    gt = pd.DataFrame({"subject": ["s1"], "video_code": ["0101"], "onset": [4], "offset": [8]})
    scores = {"s1_0101": np.zeros(28), "s2_0101": np.zeros(28)}
    videos = changes.get("videos", videos)
    gt = changes.get("gt", gt)
    scores = changes.get("scores", scores)
    for df in (videos, gt):
        df["video"] = df["subject"] + "_" + df["video_code"]
    return ScoreSet(scores, videos, gt)


def test_score_set_validation_names_the_video():
    _tiny_set()
    with pytest.raises(ValueError, match="no scores for video s2_0101"):
        _tiny_set(scores={"s1_0101": np.zeros(28)})
    with pytest.raises(ValueError, match="video s1_0101: 27 scores, expected n_frames - k = 30 - 2 = 28"):
        _tiny_set(scores={"s1_0101": np.zeros(27), "s2_0101": np.zeros(28)})
    bad_gt = pd.DataFrame({"subject": ["s9"], "video_code": ["0101"], "onset": [4], "offset": [8]})
    with pytest.raises(ValueError, match="ground truth names video s9_0101"):
        _tiny_set(gt=bad_gt)
    inverted = pd.DataFrame({"subject": ["s1"], "video_code": ["0101"], "onset": [9], "offset": [8]})
    with pytest.raises(ValueError, match="video s1_0101: onset 9 > offset 8"):
        _tiny_set(gt=inverted)
    bad_k = pd.DataFrame({"subject": ["s1"], "video_code": ["0101"], "n_frames": [30], "k": [0]})
    with pytest.raises(ValueError, match="k must be >= 1"):
        _tiny_set(videos=bad_k, gt=inverted.iloc[:0].copy(), scores={"s1_0101": np.zeros(30)})


def test_load_score_set_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz does not exist"):
        load_score_set(tmp_path / "nope.npz", REF / "videos_me.csv", REF / "gt_me.csv")


def test_submission_round_trip_and_errors(tmp_path):
    df = pd.DataFrame({"vid": ["spNO.1_a", "007_7"], "pred_onset": [10, 200], "pred_offset": [22, 560],
                       "type": ["me", "mae"]})
    path = write_submission(tmp_path / "cas_pred.csv", df)
    assert path.read_text().splitlines()[0] == "vid,pred_onset,pred_offset,type"
    pd.testing.assert_frame_equal(read_submission(path), df)
    with pytest.raises(ValueError, match="row 2 has type 'macro'"):
        write_submission(tmp_path / "x.csv", df.assign(type=["me", "macro"]))
    with pytest.raises(ValueError, match=r"row 1 \(video spNO.1_a\) has pred_onset > pred_offset"):
        write_submission(tmp_path / "x.csv", df.assign(pred_onset=[30, 200]))
    with pytest.raises(ValueError, match="lacks column"):
        write_submission(tmp_path / "x.csv", df.drop(columns="type"))
    assert not (tmp_path / "x.csv").exists()


def test_rescoring_keeps_the_published_counts_and_best_t_is_optimistic(released):
    import dataclasses

    from slswin_lib.report import f1_cells, rescoring_note, rescoring_table

    spot = dataclasses.replace(SpotConfig(), t_grid=(0.4, 0.6, 0.8))
    table, sweeps = rescoring_table(released, spot, modes=("authors", "megc2020"))
    authors = table.sort_index().loc[("authors", "published t")]  # sorted: no lexsort-depth warning
    assert authors.loc["overall", ["TP", "FP", "FN"]].tolist() == [82, 462, 273]
    assert authors.loc["me", "t"] == 0.6
    # megc2020 at t = 0.60: the same spots as above, counted without one-to-one matching
    c = spot_score_set(released["me"], 0.60, "megc2020")[0]
    assert table.loc[("megc2020", "published t", "me"), "F1"] == pytest.approx(c.f1)
    assert c.tp_pred >= c.tp == 13  # the MEGC-rule TPs are the found ground truths here
    for mode in ("authors", "megc2020"):
        for e in ("me", "mae"):
            best = table.loc[(mode, "best t on the test folds", e)]
            # tuned on the test folds over a grid holding 0.6: never below t = 0.6, never below nested
            assert best["F1"] >= table.loc[(mode, "published t", e), "F1"]
            assert best["F1"] >= table.loc[(mode, "nested LOSO t", e), "F1"]
            assert table.loc[(mode, "nested LOSO t", e), "F1 low"] <= table.loc[(mode, "nested LOSO t", e), "F1"]
        # the figure's sweep: the overall F1 of both types spotted at each t
        overall = [metrics_table({e: spot_score_set(released[e], t, mode)[0] for e in released}).loc["overall", "F1"]
                   for t in spot.t_grid]
        assert sweeps[mode]["F1"].tolist() == pytest.approx(overall)
    assert list(f1_cells(table).columns) == ["matching", "threshold", "mae", "me", "overall"]
    note = rescoring_note(table, {"a": 0.1, "b": 0.3})
    assert "0.1824 (authors, published t)" in note and "a range of 0.2000" in note
