"""Comparison tables: counts, 95% intervals over videos, AUC, captions, on the authors' released scores."""
import pandas as pd
import pytest

from slswin_lib.config import get_profile
from slswin_lib.report import ablation_row, auc_table, budget_caption, interval_note, megc2021_table
from slswin_lib.scores import released_score_set


@pytest.fixture(scope="module")
def released():
    return {e: released_score_set(e) for e in ("me", "mae")}


def test_ablation_row_gives_the_published_counts_with_an_interval(released):
    row = ablation_row(released["me"], get_profile("quick").spot)
    assert (row["TP"], row["FP"], row["FN"]) == (12, 204, 45)           # the published ME counts
    assert row["F1 low"] <= row["F1 (t = 0.6)"] <= row["F1 high"]
    assert 0 < row["F1 low"] < row["F1 high"] < 0.3
    assert row["nested low"] <= row["F1 (nested t)"] <= row["nested high"]


def test_megc2021_table_pools_videos_of_both_types_for_overall(released):
    table = megc2021_table({"released": released}, get_profile("quick").spot, modes=("authors",))
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


def test_interval_note_names_resolved_and_overlapping_pairs():
    t = pd.DataFrame({"lo": [0.1, 0.5], "hi": [0.3, 0.7]}, index=["a", "b"])
    assert interval_note(t, "lo", "hi") == "95% intervals resolve: b above a."
    t.loc["b", "lo"] = 0.2
    assert interval_note(t, "lo", "hi") == "not resolved (intervals overlap): a vs b."


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


def test_results_block_shows_table2_rows_of_every_method(tmp_path):
    from slswin_lib.results import headline_f1, results_block

    rows = []
    for method, t in (("SL-Swin-T", 0.6), ("SOFTNet", 0.55)):
        for threshold in ("published t", "nested LOSO t"):
            for e, f1 in (("mae", 0.5), ("me", 0.1), ("overall", 0.3)):
                rows.append({"method": method, "threshold": threshold, "matching": "authors", "type": e, "t": t,
                             "F1": f1 + (0.01 if method == "SOFTNet" else 0), "F1 low": f1 - 0.1, "F1 high": f1 + 0.1})
    pd.DataFrame(rows).to_csv(tmp_path / "05_megc2021.csv", index=False)
    table = headline_f1(tmp_path, intervals=True)
    assert list(table.index) == [("SL-Swin-T", "published t"), ("SL-Swin-T", "nested LOSO t"),
                                 ("SOFTNet", "published t"), ("SOFTNet", "nested LOSO t")]
    assert table.loc[("SOFTNet", "published t"), "overall"] == "0.3100 [0.200, 0.400]"
    block = results_block(tmp_path)
    assert "SOFTNet 0.2410, 0.1173, 0.2022" in block and "0.3100 [0.200, 0.400]" in block


def test_ablation_table_has_a_block_per_type_and_a_note_per_type_and_threshold(released):
    from slswin_lib.report import ablation_notes, ablation_table, typed_columns

    spot = get_profile("quick").spot
    rows = {"released": {"model": "sl_swin", **{k: v for e in ("me", "mae")
                                                  for k, v in typed_columns(e, ablation_row(released[e], spot)).items()}},
            "not run": {"model": "not run"}}
    table = ablation_table(rows, index_name="Table 4")
    assert table.loc["released", ["ME TP", "ME FP", "ME FN"]].tolist() == [12, 204, 45]
    assert table["MaE TP"].dtype == "Int64" and pd.isna(table.loc["not run", "MaE TP"])
    notes = ablation_notes(table, ("me", "mae"), spot.t)
    assert [n.split(":")[0] for n in notes] == ["ME, t = 0.6", "ME, nested t", "MaE, t = 0.6", "MaE, nested t"]
    assert all("Fewer than two rows" in n for n in notes)               # one row with intervals


def test_f1_outside_intervals_names_each_row_whose_f1_leaves_its_interval(released):
    from slswin_lib.report import ablation_table, f1_outside_intervals, typed_columns

    spot = get_profile("quick").spot
    row = {k: v for e in ("me", "mae") for k, v in typed_columns(e, ablation_row(released[e], spot)).items()}
    table = ablation_table({"released": row, "moved": dict(row), "not run": {"model": "not run"}}, index_name="x")
    assert f1_outside_intervals(table.loc[["released"]], spot.t, ("me", "mae")) == []
    table.loc["moved", "MaE F1 (t = 0.6)"] = table.loc["moved", "MaE F1 high"] + 0.01
    assert f1_outside_intervals(table, spot.t, ("me", "mae")) == ["ME not run", "MaE moved", "MaE not run"]


def test_results_block_states_the_event_counts_and_the_per_type_auc_table(tmp_path, released):
    from slswin_lib.report import save_table
    from slswin_lib.results import results_block

    assert "events in" not in results_block(tmp_path)                       # nothing written yet
    save_table(pd.DataFrame([{"videos": 6, "subjects": 6, "me": 96, "mae": 155}]), "00_event_counts", tmp_path)
    save_table(auc_table({"released": released, "again": released}), "05_auc", tmp_path)
    block = results_block(tmp_path)
    assert "synthetic benchmark of 96 ME and 155 MaE events in 6 videos of 6 subjects" in block
    header = next(line for line in block.splitlines() if line.startswith("|") and "method" in line)
    assert [c.strip() for c in header.strip("|").split("|")] == ["method", "me", "mae"]
    rows = [line for line in block.splitlines() if line.startswith("|") and ("released" in line or "again" in line)]
    assert len(rows) == 2
