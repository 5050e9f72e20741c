"""A papermill sweep over the released-predictions notebook gathers one table per grid point."""
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from slswin_lib.sweep import grid_points, parse_values

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "09_released_predictions.ipynb"


def test_parse_values_and_grid():
    assert parse_values("0.5, 1,none,true,abc") == [0.5, 1, None, True, "abc"]
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]


@pytest.mark.slow
def test_t_sweep_of_notebook_09(tmp_path):
    cmd = [sys.executable, "-m", "slswin_lib", "sweep", str(NOTEBOOK), "--param", "t=0.5,0.6",
           "--set", "profile=smoke", "--table", "09_released_counts", "--out", str(tmp_path)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    table = pd.read_csv(tmp_path / "sweep.csv")
    assert sorted(table["t"].unique()) == [0.5, 0.6] and len(table) == 6
    at = table[(table["t"] == 0.6) & (table["type"] == "me")].iloc[0]
    assert (at["ours (authors mode) · TP"], at["ours (authors mode) · FP"], at["ours (authors mode) · FN"]) == (12, 204, 45)
    assert (tmp_path / "t-0.5" / NOTEBOOK.name).exists()
