"""Comparison tables: counts, 95% intervals over videos, AUC, captions, on the authors' released scores."""
import pandas as pd
import pytest

from slswin_lib.config import get_profile
from slswin_lib.published import CLAIMS, Claim
from slswin_lib.report import (ablation_table, auc_table, budget_caption, difference_notes, megc2021_table, verdict,
                               verdict_lines)


def test_an_ablation_row_gives_the_published_counts_with_an_interval_over_videos(released):
    result = ablation_table({"released": released}, get_profile("quick").spot, reference="released", fps=None,
                            index_name="x")
    row = result.table.loc["released"]
    assert (row["ME TP"], row["ME FP"], row["ME FN"]) == (12, 204, 45)           # the published ME counts
    assert row["ME F1 low"] <= row["ME F1 (t = 0.6)"] <= row["ME F1 high"]
    assert 0 < row["ME F1 low"] < row["ME F1 high"] < 0.3
    assert row["ME nested low"] <= row["ME F1 (nested t)"] <= row["ME nested high"]
    assert result.units["me"].kind == "videos" and pd.isna(row["ME diff (t = 0.6)"])


def test_megc2021_table_pools_videos_of_both_types_for_overall(released):
    table = megc2021_table({"released": released}, get_profile("quick").spot, modes=("authors",)).table
    fixed = table.sort_index().xs(("released", "t = 0.6", "authors"))
    assert fixed.loc["overall", ["TP", "FP", "FN"]].tolist() == [82, 462, 273]
    for row in ("me", "mae", "overall"):
        assert fixed.loc[row, "F1 low"] <= fixed.loc[row, "F1"] <= fixed.loc[row, "F1 high"]
    # more videos, narrower interval: the pooled one is narrower than the ME one
    width = fixed["F1 high"] - fixed["F1 low"]
    assert width["overall"] < width["me"]


def test_auc_of_the_released_scores_is_above_chance(released):
    auc = auc_table({"released": released})
    assert list(auc.columns) == ["me", "mae"] and ((auc > 0.5) & (auc < 1)).all(axis=None)


def _two_subjects(sets):
    """The released sets' videos of two subjects: too few for video units."""
    subjects = sets["me"].subjects[:2]
    return {e: s.subset(subjects) for e, s in sets.items()}


def test_differences_to_the_reference_are_paired_over_time_blocks_when_few_videos_are_held_out(released):
    spot = get_profile("quick").spot
    few = _two_subjects(released)
    runs = {"paper t": few, "same": {e: s.subset(s.subjects) for e, s in few.items()}}
    result = ablation_table(runs, spot, reference="paper t", fps=30.0, index_name="x",
                            rows={"not run": {"model": "none"}})
    table = result.table
    assert list(table.index) == ["not run", "paper t", "same"] and pd.isna(table.loc["not run", "ME TP"])
    assert result.units["me"].kind == "time blocks" and result.units["me"].n > 2 * 2
    assert table.loc["same", "ME diff (t = 0.6)"] == 0 and table.loc["same", "ME diff low"] == 0
    notes = difference_notes(result, ("me", "mae"), spot.t)
    assert [n.split(",")[:2] for n in notes] == [["ME", " t = 0.6"], ["ME", " nested t"], ["MaE", " t = 0.6"],
                                                 ["MaE", " nested t"]]
    assert all("same +0.0000 [+0.000, +0.000] not resolved" in n for n in notes)
    assert "over 50 time blocks of 10 s (7 videos)" in notes[0] and "over 14 videos" in notes[2]   # 7 ME, 14 MaE videos
    table = verdict(result, Claim("t as published beats itself", "me", (("paper t", "same"),)), spot.t)
    assert table["threshold"].tolist() == ["ME F1, t = 0.6", "ME F1, nested t"]
    assert table["verdict"].tolist() == ["cannot tell", "cannot tell"]
    lines = verdict_lines(table)
    assert lines[0] == "The paper: t as published beats itself." and lines[1].startswith(
        "ME F1, t = 0.6: this run cannot tell (paper t - same = +0.0000 [+0.000, +0.000]: not resolved; paired")
    missing = verdict(result, CLAIMS["table4"], spot.t)
    assert missing["detail"].iloc[0].startswith("the compared rows were not run (SL-Swin-T vs Swin-T")
    # one pair run, the other not run but shown with its published F1 (quick's Table 4 leaves out the ViTs)
    shown = ablation_table({"SL-Swin-T": few, "Swin-T": few}, spot, reference="SL-Swin-T", fps=30.0,
                           index_name="model", rows={"SL-ViT-B": {"published F1 (CAS(ME)^2 ME)": 0.1},
                                                     "ViT-B": {"published F1 (CAS(ME)^2 ME)": 0.05}})
    partial = verdict(shown, CLAIMS["table4"], spot.t)
    assert partial["verdict"].tolist() == ["cannot tell", "cannot tell"]
    assert partial["detail"].iloc[0].startswith("SL-Swin-T - Swin-T = +0.0000 [+0.000, +0.000]: not resolved") and \
        partial["detail"].iloc[0].endswith("; not run here: SL-ViT-B vs ViT-B")


def test_a_run_that_spots_more_is_resolved_against_the_reference(released):
    spot = get_profile("quick").spot
    few = _two_subjects(released)
    # the same scores with the ground truth's frames raised: spotting them finds every expression
    import numpy as np

    from slswin_lib.scores import ScoreSet
    from slswin_lib.training.labels import pseudo_labels

    oracle = {}
    for e, s in few.items():
        scores = {v: s.scores[v] + 10 * pseudo_labels(len(s.scores[v]), s.k_of(v), s.gt_of(v)) for v in s.keys}
        oracle[e] = ScoreSet(scores, s.videos, s.gt, "oracle")
    result = ablation_table({"released": few, "oracle": oracle}, spot, reference="released", fps=30.0, index_name="x")
    row = result.table.loc["oracle"]
    assert row["ME diff low"] > 0 and row["MaE diff low"] > 0
    assert verdict(result, Claim("the oracle wins", "me", (("oracle", "released"),)), spot.t)["verdict"].tolist() == \
        ["supports", "supports"]
    assert verdict(result, Claim("x", "me", (("released", "oracle"),)), spot.t)["verdict"].tolist() == \
        ["contradicts", "contradicts"]
    assert verdict(result, Claim("x", "mae", (("released", "oracle"),)), spot.t)["verdict"].iloc[0] == "contradicts"
    assert np.isfinite(row["ME F1 (nested t)"])


def test_budget_caption_names_the_recipe():
    assert "recipe adamw" in budget_caption(get_profile("quick"), 6)
    assert budget_caption(get_profile("paper"), 22).startswith("full LOSO; recipe paper (SGD lr 0.0005, 25 epochs")


def test_results_page_links_the_learning_curve_of_the_profiles_model(tmp_path):
    from slswin_lib.config import get_profile
    from slswin_lib.results import results_markdown

    p = get_profile("smoke").replace(model={"name": "swin_tiny_patch6_window7_42"})
    (tmp_path / "04_loss_swin_tiny_patch6_window7_42.png").write_bytes(b"png")
    (tmp_path / "04_loss_sl_swin_tiny_patch6_window7_42.png").write_bytes(b"png")
    page = results_markdown(tmp_path, p)
    assert "![04_loss_swin_tiny_patch6_window7_42](04_loss_swin_tiny_patch6_window7_42.png)" in page
    assert "04_loss_sl_swin" not in page


def test_results_block_shows_table2_rows_of_every_method_me_first_with_the_paired_differences(tmp_path):
    from slswin_lib.results import headline_f1, results_block, table2_compact

    rows = []
    for method, t in (("SL-Swin-T", 0.6), ("SOFTNet", 0.55)):
        for threshold in ("published t", "nested LOSO t"):
            for e, f1 in (("mae", 0.5), ("me", 0.1), ("overall", 0.3)):
                softnet = method == "SOFTNet"
                rows.append({"method": method, "threshold": threshold, "matching": "authors", "type": e, "t": t,
                             "FP": 10, "F1": f1 + (0.01 if softnet else 0), "F1 low": f1 - 0.1, "F1 high": f1 + 0.1,
                             "diff": 0.01 if softnet else None, "diff low": 0.002 if softnet else None,
                             "diff high": 0.02 if softnet else None, "units": "87 time blocks of 10 s (6 videos)"})
    pd.DataFrame(rows).to_csv(tmp_path / "05_megc2021.csv", index=False)
    table = headline_f1(tmp_path, intervals=True)
    assert list(table.index) == [("SL-Swin-T", "published t"), ("SL-Swin-T", "nested LOSO t"),
                                 ("SOFTNet", "published t"), ("SOFTNet", "nested LOSO t")]
    assert list(table.columns) == ["me", "mae", "overall"]
    assert table.loc[("SOFTNet", "published t"), "overall"] == "0.3100 [0.200, 0.400]"
    compact = table2_compact(tmp_path)
    assert list(compact.columns) == ["method", "threshold", "ME", "MaE", "overall", "overall - SL-Swin-T"]
    assert compact["threshold"].tolist()[:2] == ["published t (0.60)", "nested LOSO t"]
    assert compact.loc[2, "overall - SL-Swin-T"] == "**+0.0100 [+0.002, +0.020]**" and compact.loc[0, "overall - SL-Swin-T"] == ""
    block = results_block(tmp_path)
    assert "SOFTNet 0.1173, 0.2410, 0.2022" in block and "0.3100 [0.200, 0.400]" in block
    assert "over 87 time blocks of 10 s (6 videos)" in block
    assert all(len(line.strip("|").split("|")) <= 8 for line in block.splitlines() if line.startswith("|"))


def test_odd_numbers_get_their_one_line_reason(tmp_path):
    from slswin_lib.config import get_profile
    from slswin_lib.results import odd_numbers

    pd.DataFrame({"method": ["SL-Swin-T", "baseline (ROI flow magnitude)"], "me": [0.471, 0.499], "mae": [0.873, 0.686]}
                 ).to_csv(tmp_path / "05_auc.csv", index=False)
    rows = []
    for threshold, f1, fp in (("published t", {"me": 0.02, "mae": 0.36, "overall": 0.18}, 50),
                              ("nested LOSO t", {"me": 0.03, "mae": 0.48, "overall": 0.10}, 900)):
        rows += [{"method": "SL-Swin-T", "threshold": threshold, "matching": "authors", "type": e, "F1": f,
                  "FP": fp if e == "me" else 5} for e, f in f1.items()]
    pd.DataFrame(rows).to_csv(tmp_path / "05_megc2021.csv", index=False)
    lines = odd_numbers(tmp_path, get_profile("quick"))
    assert lines[0] == ("SL-Swin-T's held-out ME AUC of 0.471 is at or below chance: it did not learn that type at "
                        "this budget (notebook 04's held-out loss curves show it).")
    assert lines[1].startswith("baseline (ROI flow magnitude)'s held-out ME AUC of 0.499 is at or below chance: it is "
                               "not trained")
    assert "spots 900 ME false positives (50 at its published t)" in lines[2]
    assert lines[3].startswith("SL-Swin-T trains 120 optimiser steps per fold and SOFTNet 2,000")


def test_f1_outside_intervals_names_each_row_whose_f1_leaves_its_interval(released):
    from slswin_lib.report import f1_outside_intervals

    spot = get_profile("quick").spot
    result = ablation_table({"released": released, "moved": released}, spot, reference="released", fps=None,
                            index_name="x", rows={"not run": {"model": "not run"}})
    table = result.table
    assert f1_outside_intervals(table.loc[["released"]], spot.t, ("me", "mae")) == []
    table.loc["moved", "MaE F1 (t = 0.6)"] = table.loc["moved", "MaE F1 high"] + 0.01
    assert f1_outside_intervals(table, spot.t, ("me", "mae")) == ["ME not run", "MaE not run", "MaE moved"]


def test_results_block_states_the_event_counts_and_the_per_type_auc_table(tmp_path, released):
    from slswin_lib.report import save_table
    from slswin_lib.results import results_block

    assert "events in" not in results_block(tmp_path)                       # nothing written yet
    save_table(pd.DataFrame([{"videos": 6, "subjects": 6, "me": 96, "mae": 155}]), "00_event_counts", tmp_path)
    save_table(auc_table({"released": released, "again": released}), "05_auc", tmp_path)
    block = results_block(tmp_path)
    assert "synthetic benchmark of 96 ME and 155 MaE events in 6 videos of 6 subjects" in block
    header = next(line for line in block.splitlines() if line.startswith("|") and "method" in line)
    assert [c.strip() for c in header.strip("|").split("|")] == ["method", "ME", "MaE"]
    rows = [line for line in block.splitlines() if line.startswith("|") and ("released" in line or "again" in line)]
    assert len(rows) == 2


def test_ablation_tables_and_verdicts_in_compact_form(tmp_path, released):
    from slswin_lib.report import save_table
    from slswin_lib.results import ablation_compact, results_block, verdict_sentence

    spot = get_profile("quick").spot
    few = _two_subjects(released)
    result = ablation_table({"original": few, "pseudo": few}, spot, reference="pseudo", fps=30.0, index_name="labels",
                            rows={"original": {"published F1 (CAS(ME)^2 ME)": 0.0841},
                                  "pseudo": {"published F1 (CAS(ME)^2 ME)": 0.0879}})
    save_table(result.table, "07_table5_labels", tmp_path)
    save_table(verdict(result, CLAIMS["table5"], spot.t), "07_verdict", tmp_path)
    compact = ablation_compact(tmp_path, "07_table5_labels", published="published F1 (CAS(ME)^2 ME)")
    assert list(compact.columns) == ["labels", "ME F1 (t = 0.6)", "ME diff to pseudo", "MaE F1 (t = 0.6)",
                                     "MaE diff to pseudo", "published F1 (CAS(ME)^2 ME)"]
    assert compact["ME diff to pseudo"].tolist() == ["+0.0000 [+0.000, +0.000]", ""]
    sentence = verdict_sentence(tmp_path, "07_verdict")
    assert sentence.startswith("The paper: pseudo labels beat the original labels") and \
        "This run cannot tell (ME F1, t = 0.6), cannot tell (ME F1, nested t)" in sentence
    block = results_block(tmp_path)
    assert "**Table 5: pseudo vs original labels**" in block and sentence in block
