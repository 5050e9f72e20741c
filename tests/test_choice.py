"""Which method ``spot`` uses per type (slswin_lib.deploy.choice), on hand-made rankings and spotter files."""
from __future__ import annotations

import pandas as pd
import pytest

from slswin_lib.config import get_profile
from slswin_lib.deploy.choice import (choice_table, choose, last_run_spotters, read_ranking, spotter_path,
                                      write_ranking)


def _table(f1: dict[tuple[str, str], float]) -> pd.DataFrame:
    """Table 2 rows: (method, type) -> nested-LOSO F1 (authors' matching), plus rows ``spot`` must ignore."""
    rows = {}
    for (method, e), v in f1.items():
        rows[(method, "nested LOSO t", "authors", e)] = {"F1": v, "F1 low": v - 0.1, "F1 high": v + 0.1}
        rows[(method, "published t", "authors", e)] = {"F1": 0.99, "F1 low": 0.9, "F1 high": 1.0}
        rows[(method, "nested LOSO t", "megc", e)] = {"F1": 0.98, "F1 low": 0.9, "F1 high": 1.0}
    rows[("SL-Swin-T", "nested LOSO t", "authors", "overall")] = {"F1": 0.97, "F1 low": 0.9, "F1 high": 1.0}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.names = ["method", "threshold", "matching", "type"]
    return table


SCORERS = {"SL-Swin-T": "sl_swin", "SOFTNet": "softnet", "baseline (ROI flow magnitude)": "baseline",
           "optical-flow spotter (He et al.)": "of_spotter"}


def _run(tmp_path, f1, trained=("sl_swin", "softnet")):
    for scorer in trained:
        for e in ("me", "mae"):
            spotter_path(tmp_path, scorer, e).parent.mkdir(parents=True, exist_ok=True)
            spotter_path(tmp_path, scorer, e).write_bytes(b"a spotter file")
    p = get_profile("smoke")
    deploy = {("of_spotter", "me"): 0.7, ("baseline", "mae"): 0.4}
    return write_ranking(_table(f1), p, SCORERS, deploy=deploy, folder=tmp_path)


def test_the_ranking_holds_the_nested_rows_of_the_profiles_matching(tmp_path):
    path = _run(tmp_path, {("SL-Swin-T", "me"): 0.1, ("baseline (ROI flow magnitude)", "me"): 0.2})
    ranking = read_ranking(tmp_path)
    assert path == tmp_path / "ranking.csv"
    assert ranking[["scorer", "kind", "type", "F1", "matching", "setting"]].values.tolist() == [
        ["sl_swin", "trained", "me", 0.1, "authors", "t"], ["baseline", "training-free", "me", 0.2, "authors", "t"]]
    assert set(ranking["profile"]) == {"smoke"} and read_ranking(tmp_path / "nothing") is None


def test_the_best_f1_wins_but_never_a_spotter_below_the_baseline(tmp_path):
    _run(tmp_path, {("SL-Swin-T", "me"): 0.10, ("SOFTNet", "me"): 0.25, ("baseline (ROI flow magnitude)", "me"): 0.20,
                    ("optical-flow spotter (He et al.)", "me"): 0.15,
                    ("SL-Swin-T", "mae"): 0.50, ("SOFTNet", "mae"): 0.30, ("baseline (ROI flow magnitude)", "mae"): 0.40,
                    ("optical-flow spotter (He et al.)", "mae"): 0.40})
    me, mae = choose("me", tmp_path), choose("mae", tmp_path)
    assert (me.scorer, me.checkpoint) == ("softnet", spotter_path(tmp_path, "softnet", "me"))
    assert "below the training-free baseline and never the default: sl_swin 0.100 [0.000, 0.200]" in me.reason
    assert mae.scorer == "sl_swin" and "softnet" in mae.reason and mae.deploy is None
    table = choice_table(tmp_path)
    assert table.loc[table["default"], ["type", "scorer"]].values.tolist() == [["me", "softnet"], ["mae", "sl_swin"]]
    assert len(table) == 8 and table["F1"].notna().all()


def test_ties_go_to_a_training_free_method_and_its_deploy_setting(tmp_path):
    _run(tmp_path, {("SL-Swin-T", "me"): 0.3, ("optical-flow spotter (He et al.)", "me"): 0.3,
                    ("baseline (ROI flow magnitude)", "me"): 0.3, ("baseline (ROI flow magnitude)", "mae"): 0.2})
    me = choose("me", tmp_path)
    assert (me.scorer, me.checkpoint, me.deploy) == ("of_spotter", None, 0.7)
    mae = choose("mae", tmp_path)
    assert (mae.scorer, mae.deploy) == ("baseline", 0.4)
    assert "not ranked (no Table 2 row): of_spotter, sl_swin, softnet" in mae.reason


def test_forced_scorers_and_no_run(tmp_path, monkeypatch):
    _run(tmp_path, {("SL-Swin-T", "me"): 0.3}, trained=("sl_swin",))
    assert choose("me", tmp_path, "baseline").reason == "forced (--scorer baseline)"
    with pytest.raises(ValueError, match=r"--scorer 'softnet' is not available for MAE; choose one of "
                                         r"\['of_spotter', 'baseline', 'sl_swin'\]"):
        choose("mae", tmp_path, "softnet")
    none = choose("mae", None)
    assert none.scorer == "of_spotter" and none.reason.startswith("no run found")
    monkeypatch.setenv("SLSWIN_WORK", str(tmp_path / "empty"))
    assert last_run_spotters() is None
    (tmp_path / "empty" / "spotters").mkdir(parents=True)
    assert last_run_spotters() is None                     # a folder without a ranking or a spotter
    _run(tmp_path / "empty" / "spotters", {("SL-Swin-T", "me"): 0.3}, trained=())
    assert last_run_spotters() == tmp_path / "empty" / "spotters"
