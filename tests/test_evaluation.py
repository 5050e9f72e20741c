"""MEGC interval matching (paper Section 3.2) on hand-computed cases."""
import numpy as np
import pandas as pd
import pytest

from slswin_lib.evaluation import Counts, bootstrap_f1, evaluate, interval_iou, match_video, metrics_table


@pytest.mark.parametrize("a,b,expected", [
    ([0, 4], [5, 9], 0.0),            # touching, no shared frame
    ([0, 5], [5, 9], 1 / 10),         # one shared frame, 10 frames in the union
    ([0, 9], [2, 6], 5 / 10),         # nested, exactly 0.5
    ([0, 9], [20, 29], 0.0),          # disjoint
    ([3, 7], [3, 7], 1.0),            # identical
    ([0, 0], [0, 0], 1.0),            # one-frame intervals
    ([0, 9], [5, 14], 5 / 15),        # partial overlap
])
def test_interval_iou(a, b, expected):
    assert interval_iou(np.array([a]), np.array([b]))[0, 0] == pytest.approx(expected)
    assert interval_iou(np.array([b]), np.array([a]))[0, 0] == pytest.approx(expected)


def test_iou_exactly_half_counts_in_megc_not_in_authors():
    pred, gt = [[0, 9]], [[2, 6]]
    assert match_video(pred, gt, "megc")[0] == Counts(1, 0, 0)
    assert match_video(pred, gt, "authors")[0] == Counts(0, 1, 1)


def test_megc_maximises_matches_where_best_iou_greedy_does_not():
    g = [[10, 19], [13, 22]]
    a, b = [11, 20], [7, 16]   # IoU(a): 9/11 and 8/12; IoU(b): 7/13 and 4/16
    assert match_video([a, b], g, "authors")[0] == Counts(1, 1, 1)
    counts, pairs = match_video([a, b], g, "megc")
    assert counts == Counts(2, 0, 0)
    assert sorted(pairs) == [(0, 1), (1, 0)]


def test_each_ground_truth_matched_once():
    g = [[0, 9]]
    preds = [[0, 9], [1, 9], [0, 8]]
    assert match_video(preds, g, "megc")[0] == Counts(1, 2, 0)
    assert match_video(preds, g, "authors")[0] == Counts(1, 2, 0)


def test_video_without_peak():
    g = [[0, 9], [30, 40]]
    empty = np.empty((0, 2))
    assert match_video(empty, g, "megc")[0] == Counts(0, 0, 2)
    assert match_video(empty, g, "authors")[0] == Counts(0, 1, 2)


def test_video_without_ground_truth():
    preds = [[0, 9], [30, 40]]
    empty = np.empty((0, 2))
    assert match_video(preds, empty, "megc")[0] == Counts(0, 2, 0)
    assert match_video(preds, empty, "authors")[0] == Counts(0, 2, 0)
    assert match_video(empty, empty, "megc")[0] == Counts(0, 0, 0)
    assert match_video(empty, empty, "authors")[0] == Counts(0, 1, 0)


def test_counts_metrics():
    c = Counts(12, 204, 45)
    assert c.precision == pytest.approx(12 / 216)
    assert c.recall == pytest.approx(12 / 57)
    assert c.f1 == pytest.approx(24 / (24 + 204 + 45))
    assert round(c.f1, 4) == 0.0879
    assert Counts().f1 == 0.0 and Counts().precision == 0.0


def test_evaluate_pools_videos_and_rejects_unknown_ground_truth():
    gt = pd.DataFrame({"video": ["a", "a", "b"], "onset": [0, 50, 10], "offset": [9, 59, 19]})
    spotted = {"a": np.array([[0, 9], [100, 110]]), "b": np.empty((0, 2)), "c": np.array([[5, 6]])}
    counts, per_video = evaluate(spotted, gt, "megc")
    assert counts == Counts(1, 2, 2)
    assert per_video.set_index("video").loc["a", ["TP", "FP", "FN"]].tolist() == [1, 1, 1]
    counts_a, _ = evaluate(spotted, gt, "authors")
    assert counts_a == Counts(1, 3, 2)   # video b has no spotted interval: one extra FP
    with pytest.raises(ValueError, match="ground truth but no spotting result"):
        evaluate({"a": np.empty((0, 2))}, gt)


def test_onset_after_offset_is_an_error():
    with pytest.raises(ValueError, match=r"ground-truth interval \[9, 3\] of video v1 has onset > offset"):
        match_video([[0, 1]], [[9, 3]], video="v1")


def test_unknown_mode():
    with pytest.raises(ValueError, match="unknown matching mode"):
        match_video([[0, 1]], [[0, 1]], "strict")


def test_metrics_table_overall_pools_counts():
    table = metrics_table({"me": Counts(12, 204, 45), "mae": Counts(70, 258, 228)})
    assert table.loc["overall", ["TP", "FP", "FN"]].tolist() == [82, 462, 273]
    assert round(table.loc["overall", "F1"], 4) == 0.1824
    assert list(metrics_table({"me": Counts(1, 1, 1)}).index) == ["me"]


def _per_video(rows):
    return pd.DataFrame(rows, columns=["TP", "FP", "FN"])


def test_bootstrap_f1_of_identical_videos_is_a_point():
    ci = bootstrap_f1(_per_video([[1, 1, 0]] * 5), n_resamples=200)
    assert (ci.f1, ci.low, ci.high, ci.n_videos) == (2 / 3, 2 / 3, 2 / 3, 5)   # 2*5 / (2*5 + 5 + 0)


def test_bootstrap_f1_interval_holds_the_point_and_is_reproducible():
    rng = np.random.default_rng(3)
    per_video = _per_video(rng.integers(0, 4, size=(30, 3)))
    tp, fp, fn = per_video.sum()
    ci = bootstrap_f1(per_video, n_resamples=999, seed=7)
    assert ci.f1 == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert ci.low < ci.f1 < ci.high and 0 <= ci.low and ci.high <= 1
    assert bootstrap_f1(per_video, n_resamples=999, seed=7) == ci
    assert bootstrap_f1(per_video, n_resamples=999, seed=8) != ci
    narrow = bootstrap_f1(per_video, n_resamples=999, seed=7, confidence=0.5)
    assert ci.low < narrow.low <= narrow.high < ci.high


def test_bootstrap_f1_two_extreme_videos_span_zero_to_one():
    # resamples of {perfect video, all-wrong video}: F1 in {0, 1/2, 1}; a 95% interval covers both ends
    ci = bootstrap_f1(_per_video([[1, 0, 0], [0, 1, 1]]), n_resamples=999, seed=0)
    assert ci.f1 == pytest.approx(0.5) and ci.low == 0.0 and ci.high == 1.0


def test_bootstrap_f1_takes_the_spot_score_set_table_and_refuses_others():
    table = pd.DataFrame({"subject": ["s1", "s2"], "video": ["a", "b"], "n_spotted": [1, 2], "n_gt": [1, 1],
                          "TP": [1, 0], "FP": [0, 2], "FN": [0, 1]})
    assert bootstrap_f1(table, n_resamples=99).f1 == pytest.approx(2 / 5)
    with pytest.raises(ValueError, match=r"lack column\(s\) \['FN'\]"):
        bootstrap_f1(table.drop(columns="FN"))
    with pytest.raises(ValueError, match="confidence = 95"):
        bootstrap_f1(table, confidence=95)


# the four rules on one hand-computed video: ground truths g0 = [0, 9], g1 = [20, 29], g2 = [60, 69];
# predictions p0 = [0, 9] (IoU 1 with g0), p1 = [2, 9] (IoU 8/10 with g0: a duplicate),
# p2 = [20, 24] (IoU 5/10 = 0.5 exactly with g1), p3 = [40, 49] (reaches nothing); g2 is missed
FOUR_GT = [[0, 9], [20, 29], [60, 69]]
FOUR_PRED = [[0, 9], [2, 9], [20, 24], [40, 49]]
FOUR_RULES = {
    # p0 -> g0; p1's best ground truth g0 is taken (FP); p2 at 0.5 is not > 0.5 (FP); p3 FP
    "authors": (Counts(1, 3, 2), 2 / (2 + 3 + 2)),
    # one-to-one with IoU >= 0.5: p0 -> g0, p2 -> g1; p1 and p3 are FPs; g2 FN
    "megc": (Counts(2, 2, 1), 4 / (4 + 2 + 1)),
    # g0, g1 found (recall 2/3); p0, p1, p2 score (precision 3/4); F1 = 2 (3/4)(2/3) / (3/4 + 2/3)
    "megc2020": (Counts(2, 1, 1, tp_pred=3), 2 * (3 / 4) * (2 / 3) / (3 / 4 + 2 / 3)),
    # p0, p1, p2 are TPs (two on g0), p3 FP, g2 FN: F1 = 6 / (6 + 1 + 1)
    "overlap": (Counts(3, 1, 1), 6 / 8),
}


@pytest.mark.parametrize("mode", list(FOUR_RULES))
def test_the_four_rules_on_a_hand_computed_video(mode):
    counts, pairs = match_video(FOUR_PRED, FOUR_GT, mode)
    expected, f1 = FOUR_RULES[mode]
    assert counts == expected
    assert counts.f1 == pytest.approx(f1)
    assert len({round(v[1], 9) for v in FOUR_RULES.values()}) == 4  # every rule gives another F1
    if mode in ("megc2020", "overlap"):
        assert pairs == [(0, 0), (1, 0), (2, 1)]


def test_megc2020_precision_over_predictions_recall_over_ground_truths():
    c = FOUR_RULES["megc2020"][0]
    assert c.precision == pytest.approx(3 / 4)
    assert c.recall == pytest.approx(2 / 3)
    assert c.as_dict()["TP_pred"] == 3
    # pooled: the numerators add separately; with tp_pred = tp it is 2TP / (2TP + FP + FN)
    pooled = c + Counts(1, 1, 0, tp_pred=1)
    assert pooled == Counts(3, 2, 1, tp_pred=4)
    assert pooled.f1 == pytest.approx(2 * (4 / 6) * (3 / 4) / (4 / 6 + 3 / 4))
    assert Counts(2, 1, 1, tp_pred=2).f1 == pytest.approx(Counts(2, 1, 1).f1)
    assert "TP_pred" not in Counts(1, 1, 1).as_dict()


def test_rules_without_one_to_one_on_empty_videos():
    for mode in ("megc2020", "overlap"):
        assert match_video([], [[0, 9]], mode)[0].fn == 1
        assert match_video([], [[0, 9]], mode)[0].fp == 0
        assert match_video([[0, 9]], [], mode)[0].fp == 1


def test_megc2020_evaluate_and_bootstrap_use_the_two_numerators():
    spotted = {"a": np.array(FOUR_PRED), "b": np.array([[0, 9]]), "c": np.empty((0, 2))}
    gt = {"a": np.array(FOUR_GT), "b": np.array([[50, 59]]), "c": np.array([[0, 9]])}
    total, per_video = evaluate(spotted, gt, "megc2020")
    assert total == Counts(2, 2, 3, tp_pred=3)
    assert per_video["TP_pred"].tolist() == [3, 0, 0]
    assert "TP_pred" not in evaluate(spotted, gt, "overlap")[1].columns
    ci = bootstrap_f1(per_video, n_resamples=999)
    assert ci.f1 == pytest.approx(total.f1)
    # ignoring TP_pred (the F1 of 2TP / (2TP + FP + FN)) would give another point estimate
    assert bootstrap_f1(per_video.drop(columns="TP_pred"), n_resamples=999).f1 != pytest.approx(total.f1)
    assert ci.low <= ci.f1 <= ci.high
    table = metrics_table({"me": total, "mae": Counts(1, 0, 0, tp_pred=2)})
    assert table.loc["overall", "TP_pred"] == 5


def test_spot_modes_are_the_evaluation_modes():
    from slswin_lib.config import SPOT_MODES
    from slswin_lib.evaluation import MODES

    assert set(SPOT_MODES) == set(MODES)


# the "strs" rule (MEGC 2024/2025, genbing99/STRS-Metric Evaluator.evaluate_spotting), one quirk per case
def test_strs_one_prediction_takes_every_unmatched_ground_truth():
    # p = [0, 19] reaches g0 = [0, 9] at IoU 10/20 = 0.5 and g1 = [10, 19] at 0.5: two TPs from one prediction
    counts, pairs = match_video([[0, 19]], [[0, 9], [10, 19]], "strs")
    assert counts == Counts(2, 0, 0) and pairs == [(0, 0), (0, 1)]
    assert counts.precision == 1.0 and counts.f1 == 1.0
    assert match_video([[0, 19]], [[0, 9], [10, 19]], "megc")[0] == Counts(1, 0, 1)   # one-to-one: one of them


def test_strs_predictions_in_file_order_and_a_taken_truth_gives_a_false_positive():
    g = [[0, 9], [10, 19]]
    # [0, 19] first takes both; [0, 9] then finds g0 taken: a false positive (it takes nothing)
    assert match_video([[0, 19], [0, 9]], g, "strs")[0] == Counts(2, 1, 0)
    # the other order: [0, 9] takes g0, [0, 19] takes the still free g1
    assert match_video([[0, 9], [0, 19]], g, "strs")[0] == Counts(2, 0, 0)
    # a duplicate of an exact hit: the second copy is a false positive
    assert match_video([[0, 9], [0, 9]], [[0, 9]], "strs")[0] == Counts(1, 1, 0)


def test_strs_iou_exactly_half_counts_and_below_is_a_false_positive():
    # [20, 24] vs [20, 29]: 5 shared frames of 10 (IoU 0.5 over inclusive frame sets); [20, 23]: 4/10
    assert match_video([[20, 24]], [[20, 29]], "strs")[0] == Counts(1, 0, 0)
    assert match_video([[20, 23]], [[20, 29]], "strs")[0] == Counts(0, 1, 1)


def test_strs_evaluates_only_videos_with_ground_truth():
    assert match_video([[0, 9], [30, 40]], np.empty((0, 2)), "strs")[0] == Counts(0, 0, 0)
    assert match_video(np.empty((0, 2)), [[0, 9]], "strs")[0] == Counts(0, 0, 1)   # a missed truth is a FN
    gt = pd.DataFrame({"video": ["a"], "onset": [0], "offset": [9]})
    spotted = {"a": np.array([[0, 9], [50, 60]]), "b": np.array([[0, 9], [20, 29]])}
    total, per_video = evaluate(spotted, gt, "strs")
    assert total == Counts(1, 1, 0)                      # b's two predictions are no false positives
    assert per_video["video"].tolist() == ["a"]          # and b is not an evaluated video
    assert evaluate(spotted, gt, "megc")[0] == Counts(1, 3, 0)


def test_strs_iou_is_the_inclusive_frame_set_iou():
    # STRS-Metric's IoU: |intersect1d(arange(a, b + 1), ...)| / |union1d(...)|; the same numbers as interval_iou
    rng = np.random.default_rng(0)
    for _ in range(200):
        a, b = np.sort(rng.integers(0, 40, 2)), np.sort(rng.integers(0, 40, 2))
        x, y = np.arange(a[0], a[1] + 1), np.arange(b[0], b[1] + 1)
        expected = len(np.intersect1d(x, y)) / len(np.union1d(x, y))
        assert interval_iou(a[None], b[None])[0, 0] == pytest.approx(expected)


def test_megc_shortcut_agrees_with_maximum_matching():
    # a prediction that reaches one truth at most is matched without the bipartite solver; same counts either way
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    from slswin_lib.evaluation import match_iou

    rng = np.random.default_rng(1)
    for _ in range(300):
        iou = rng.choice([0.0, 0.3, 0.5, 0.8], size=(rng.integers(1, 6), rng.integers(1, 6)))
        matched = int((maximum_bipartite_matching(csr_matrix(iou >= 0.5), perm_type="column") >= 0).sum())
        counts, pairs = match_iou(iou, "megc")
        assert counts.tp == matched == len(pairs) == len({g for _, g in pairs}) == len({p for p, _ in pairs})
        assert all(iou[p, g] >= 0.5 for p, g in pairs)


def test_match_iou_refuses_a_vector():
    from slswin_lib.evaluation import match_iou

    with pytest.raises(ValueError, match=r"\(P, G\) matrix, got shape \(3,\)"):
        match_iou(np.zeros(3), "megc")


def test_bootstrap_takes_negative_false_positives_of_the_peers_rules_only():
    # own rules: precision = found / predictions; a video where one prediction finds two truths has FP = 1 - 2
    table = pd.DataFrame({"video": ["a", "b"], "TP": [2, 0], "FP": [-1, 3], "FN": [0, 2], "TP_pred": [2, 0]})
    ci = bootstrap_f1(table, n_resamples=99)
    assert ci.f1 == pytest.approx(2 * 2 / (4 + 4))   # 2 found / (4 truths + 4 predictions) * 2
    with pytest.raises(ValueError, match="predictions"):
        bootstrap_f1(table.assign(FP=[-3, 3]), n_resamples=99)   # a video with -1 predictions
    with pytest.raises(ValueError, match="ground truths"):
        bootstrap_f1(table.assign(FN=[-3, 2]), n_resamples=99)


def test_strs_per_unit_counts_add_up():
    # slswin_lib.comparison splits the counts into resampling units: under strs a prediction taking two truths
    # gives two TPs (precision's numerator too) and a video without ground truth gives nothing
    from slswin_lib.comparison import choose_units, unit_counts

    units = choose_units({"a": 600, "b": 600}, 30.0)
    table = unit_counts({"a": np.array([[0, 19], [0, 9], [400, 409]]), "b": np.array([[5, 9]])},
                        {"a": np.array([[0, 9], [10, 19]])}, "strs", units)
    assert table[["video", "block", "TP", "FP", "FN", "TP_pred"]].values.tolist() == [
        ["a", 0, 2, 1, 0, 2], ["a", 1, 0, 1, 0, 0], ["b", 0, 0, 0, 0, 0], ["b", 1, 0, 0, 0, 0]]
