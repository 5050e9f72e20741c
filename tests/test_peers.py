"""The peers' released CAS(ME)^2 outputs: their published figures reproduced exactly, then re-scored."""
from importlib import resources

import numpy as np
import pandas as pd
import pytest

from slswin_lib import peers
from slswin_lib.intervals import read_intervals, read_videos
from slswin_lib.published import LGSNET_CASME2

REF = resources.files("slswin_lib") / "reference" / "peers"


@pytest.fixture(scope="module")
def detections():
    return peers.lgsnet_detections()


@pytest.fixture(scope="module")
def own_grid(detections):
    return peers.lgsnet_own_grid(detections)


def test_bundled_lgsnet_detections_are_the_660_files(detections):
    assert len(detections) == 85140
    assert detections["subject"].nunique() == 22 and sorted(detections["epoch"].unique()) == list(range(30))
    assert detections.groupby(["subject", "epoch"]).size().size == 660
    assert detections.groupby(["subject", "epoch", "video"]).size().max() == 30
    # file order is kept: within a video the scores fall (LGSNet writes the best first)
    first = detections[(detections["subject"] == "s15") & (detections["epoch"] == 0)].head(2)
    assert first[["line", "video", "start", "end", "score"]].values.tolist() == [
        [0, "15_0102eatingworms", "797.818", "808.174", "0.9796"], [1, "15_0102eatingworms", "655.498", "664.168",
                                                                    "0.9715"]]
    assert set(detections["video"]) == set(peers.lgsnet_annotation()["video"])


def test_lgsnet_reads_scores_and_frames_as_its_evaluation_does(tmp_path):
    # F1_score_last.py: float(o[-1][:-2]) drops the newline and the 4th decimal; frames int(float(x))
    folder = tmp_path / "lgsnet"
    (folder / "subject_s15").mkdir(parents=True)
    (folder / "subject_s15" / "test_07.txt").write_text("15_0101a\t0.700\t20.999\t0.4859\n15_0101a\t3.2\t9.9\t0.4861\n")
    target = peers.write_lgsnet_csv(folder, tmp_path / "d.csv.gz")
    again = peers.write_lgsnet_csv(folder, tmp_path / "e.csv.gz")
    assert target.read_bytes() == again.read_bytes()          # byte-reproducible
    d = peers.lgsnet_detections(target)
    assert d["score"].tolist() == ["0.4859", "0.4861"] and d["score_read"].tolist() == [0.485, 0.486]
    assert d[["subject", "epoch", "line"]].values.tolist() == [["s15", 7, 0], ["s15", 7, 1]]
    assert d[["start_frame", "end_frame"]].values.tolist() == [[0, 20], [3, 9]]
    spotted = peers.lgsnet_spotted(d, 7)
    # 1-based -> 0-based: [0, 20] -> [-1, 19], the onset clipped to frame 0 (counted); [3, 9] -> [2, 8]
    assert spotted[["onset", "offset", "type"]].values.tolist() == [[0, 19, "mae"], [2, 8, "me"]]
    assert spotted.attrs["clipped"] == 1
    (folder / "subject_s15" / "test_08.txt").write_text("15_0101a\t3.2\t9.9\n")
    with pytest.raises(ValueError, match=r"test_08.txt: line 1 has 3 tab-separated fields, expected 4"):
        peers.read_lgsnet_folder(folder)
    with pytest.raises(FileNotFoundError, match="holds no subject_sNN/test_EE.txt"):
        peers.read_lgsnet_folder(tmp_path / "none")


def test_lgsnet_epoch_zero_has_inverted_detections(detections):
    with pytest.raises(ValueError, match=r"LGSNet epoch 0: 71 detection\(s\) with start > end as frames"):
        peers.lgsnet_spotted(detections, 0)
    assert len(peers.lgsnet_spotted(detections, 5)) == (detections["epoch"] == 5).sum()


def test_lgsnet_published_figure_reproduced_exactly(own_grid):
    counts, videos = own_grid
    best = peers.lgsnet_published_selection(counts)
    assert (round(best["recall"], 6), round(best["precision"], 6), round(best["F1"], 6)) == (
        LGSNET_CASME2["recall"], LGSNET_CASME2["precision"], LGSNET_CASME2["F1"])
    assert (best["epoch"], best["k"]) == (23, 0.485)
    at = counts.reshape(len(videos), -1, 2, 4)[:, best["index"]].sum(axis=0)
    # ME, MaE: found ground truths (typed by their length) and kept detections (found + FP)
    assert at[:, 0].tolist() == [2, 129] and (at[:, 0] + at[:, 1]).tolist() == [1, 207]
    assert at[:, 0].sum() == 131 and (at[:, 0] + at[:, 1]).sum() == 208     # 131 / 357, 131 / 208
    assert (at[:, 0] + at[:, 2]).tolist() == [57, 300]


def test_lgsnet_own_grid_counts_one_cell_by_hand(detections, own_grid):
    counts, videos = own_grid
    a = peers.lgsnet_annotation()
    vi, video = 1, videos[1]
    d = detections[(detections["video"] == video) & (detections["epoch"] == 23)]
    kept = d[d["score_read"] > 0.485].head(14)
    gt = a[a["video"] == video]
    found = 0
    for start, end in gt[["start", "end"]].to_numpy():
        iou = [(min(e, end) - max(s, start) + 1) / (max(e, end) - min(s, start) + 1)
               for s, e in kept[["start_frame", "end_frame"]].to_numpy()]
        found += bool(iou) and max(iou) >= 0.5
    cell = counts[vi, peers.LGSNET_EPOCHS.index(23), peers.LGSNET_THRESHOLDS.index(0.485)]
    assert cell[:, 0].sum() == found and (cell[:, 0] + cell[:, 1]).sum() == len(kept)


def test_he_own_verdicts_give_its_counts():
    h = peers.he_output()
    assert len(h) == 847 and h["verdict"].value_counts().to_dict() == {"FP": 490, "TP": 194, "FN": 163}
    spotted = peers.he_spotted(h)
    assert len(spotted) == 680 and spotted.attrs["duplicates"] == 0
    own = peers.he_own_counts(h).groupby("type")[["TP", "FP", "FN", "TP_pred"]].sum()
    assert own["TP"].sum() == 194 and (own["TP"] + own["FN"]).sum() == 357 and (own["TP"] + own["FP"]).sum() == 680
    assert own.loc["me"].tolist() == [19, 100, 38, 19] and own.loc["mae"].tolist() == [175, 386, 125, 175]


def test_he_verdicts_are_the_found_any_rule():
    # re-deriving the verdicts from its spotted intervals: a ground truth is found when any interval has IoU >= 0.5
    h = peers.he_output()
    spotted, gt = peers.he_spotted(h), peers.he_ground_truth(h)
    recomputed = peers.found_any_counts(spotted, gt, list(dict.fromkeys(h["video"])))
    theirs = peers.he_own_counts(h)
    columns = ["type", "video", "TP", "FP", "FN", "TP_pred"]
    pd.testing.assert_frame_equal(recomputed[columns].sort_values(["type", "video"]).reset_index(drop=True),
                                  theirs[columns].sort_values(["type", "video"]).reset_index(drop=True))


def test_he_ground_truth_is_the_annotation_with_three_earlier_offsets():
    he, annotation = peers.he_ground_truth(), peers.casme2_ground_truth()
    assert he["type"].value_counts().to_dict() == {"mae": 300, "me": 57}
    both = he.merge(annotation, on=["video", "onset", "type"], suffixes=("", " annotation"))
    moved = both[both["offset"] != both["offset annotation"]]
    assert len(both) == 357 + 2 and len(moved) == 3 + 2      # 16_0102's two intervals share an onset
    assert sorted(moved.loc[~moved["video"].str.startswith("16_"), "offset"].tolist()) == [1223, 2201, 2450]


def test_ground_truth_versions_of_slswin_and_the_annotation():
    from slswin_lib.scores import released_score_set

    table = peers.ground_truth_versions({e: released_score_set(e) for e in ("me", "mae")})
    assert table.loc["me"].tolist() == [57, 57, 57, 0, 0, 0]
    assert table.loc["mae"].tolist() == [298, 300, 251, 47, 2, 0]


def test_bundled_interval_examples_are_derived_from_the_copies(tmp_path):
    written = peers.write_interval_examples(tmp_path)
    for name, path in written.items():
        assert path.read_bytes() == (REF / name).read_bytes(), name
    gt = read_intervals(REF / "casme2_gt_357.csv", ground_truth=True)
    pred = read_intervals(REF / "he2024" / "spotted_casme2.csv", max_me_length=peers.ME_MAX_LENGTH)
    assert (len(gt), len(pred)) == (357, 680)
    assert read_videos(REF / "he2024" / "videos_casme2.csv") == ["15_0508funnydunkey", "23_0503unnyfarting"]


def test_one_protocol_table(tmp_path):
    import dataclasses

    from slswin_lib.config import SpotConfig
    from slswin_lib.scores import released_score_set

    sets = {e: released_score_set(e) for e in ("me", "mae")}
    spot = dataclasses.replace(SpotConfig(), t_grid=(0.5, 0.6, 0.7))
    table = peers.one_protocol(sets, spot, modes=("megc", "strs"), n_resamples=199)
    own = table.xs("own rule, as published", level="column")
    assert round(own.loc[("LGSNet", "overall"), "F1"], 6) == LGSNET_CASME2["F1"]
    assert own.loc[("SL-Swin-T (released scores)", "overall"), ["TP", "FP", "FN"]].tolist() == [82, 462, 273]
    assert own.loc[("He et al. 2024", "overall"), ["TP", "TP_pred", "FN"]].tolist() == [194, 194, 163]
    assert own.loc[("He et al. 2024", "overall"), "TP_pred"] + own.loc[("He et al. 2024", "overall"), "FP"] == 680
    # He et al. under the MEGC rule is what spot-eval gives on the bundled example files
    from slswin_lib.intervals import evaluate_intervals

    he = peers.he_spotted()
    expected, _ = evaluate_intervals(he, peers.casme2_ground_truth(), videos=read_videos(
        REF / "he2024" / "videos_casme2.csv"), modes=["megc"], n_resamples=0)
    for e in ("me", "mae", "overall"):
        got = table.loc[("He et al. 2024", "megc, honest selection", e), ["TP", "FP", "FN"]].tolist()
        assert got == expected.loc[("megc", e), ["TP", "FP", "FN"]].tolist()
    # every F1 lies in its interval; the cells put ME before MaE and published figures without an interval
    assert ((table["F1 low"] <= table["F1"] + 1e-12) & (table["F1"] <= table["F1 high"] + 1e-12)).all()
    cells = peers.one_protocol_cells(table)
    assert cells["type"].tolist()[:3] == ["ME", "MaE", "overall"]
    lgsnet = cells[(cells["method"] == "LGSNet") & (cells["type"] == "overall")].iloc[0]
    assert lgsnet["published F1"] == "0.4637" and lgsnet["own rule, as published"].startswith("0.4637 [")
    assert cells.loc[cells["method"] == "He et al. 2024", "published F1"].eq(peers.NO_VALUE).all()
    sentences = peers.what_moved(table)
    assert len(sentences) == 3 and "recall 0.366947, precision 0.629808" in sentences[1]
    assert "194 of 357 found" in sentences[2] and "680 spotted" in sentences[2]
    assert table.attrs["he_ground_truth_effect"] == pytest.approx(
        evaluate_intervals(he, peers.he_ground_truth(), videos=read_videos(REF / "he2024" / "videos_casme2.csv"),
                           modes=["megc"], n_resamples=0)[0].loc[("megc", "overall"), "F1"])
    assert np.isfinite(table["F1"]).all()


def test_the_published_figure_needs_the_truncated_score(detections):
    # read in full (0.4859 > 0.485), the scores give another best: the evaluation's [:-2] quirk is part of the figure
    full = detections.assign(score_read=detections["score"].astype(float))
    best = peers.lgsnet_published_selection(peers.lgsnet_own_grid(full)[0])
    assert (best["epoch"], best["k"], round(best["F1"], 6), round(best["precision"], 6)) == (23, 0.486, 0.464539,
                                                                                           0.63285)
