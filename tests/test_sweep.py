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
    assert (tmp_path / "t-0.5_profile-smoke" / NOTEBOOK.name).exists()


def _notebook(path: Path) -> Path:
    """A two-cell notebook: parameters ``a``, ``b``, ``figures``; writes ``tab.csv`` (a, b) into ``figures``."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('a = 0\nb = "x"\nfigures = "."')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(
        "import pathlib\nimport pandas as pd\n"
        "pd.DataFrame({'a': [a], 'b': [b]}).to_csv(pathlib.Path(figures) / 'tab.csv', index=False)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.mark.slow
def test_every_value_names_the_folder_and_a_folder_of_other_settings_is_refused(tmp_path):
    import json

    from slswin_lib.sweep import POINT_FILE, run_sweep

    nb, out = _notebook(tmp_path / "tiny.ipynb"), tmp_path / "out"
    table = run_sweep(nb, {"a": [1, 2]}, out, tables=["tab"], parameters={"b": "x"}, progress=False)
    assert table[["a", "table", "b"]].values.tolist() == [[1, "tab", "x"], [2, "tab", "x"]]
    assert sorted(p.name for p in out.iterdir()) == ["a-1_b-x", "a-2_b-x"]
    assert json.loads((out / "a-1_b-x" / POINT_FILE).read_text()) == {"notebook": "tiny.ipynb",
                                                                       "values": {"a": 1, "b": "x"}}
    # the same settings again: every point reused, nothing executed
    executed = out / "a-2_b-x" / "tiny.ipynb"
    stamp = executed.stat().st_mtime_ns
    again = run_sweep(nb, {"a": [1, 2]}, out, tables=["tab"], parameters={"b": "x"}, progress=False)
    assert again.equals(table) and executed.stat().st_mtime_ns == stamp
    # another fixed value runs in its own folders (it used to reuse a-1's results, made with b = x)
    other = run_sweep(nb, {"a": [1]}, out, tables=["tab"], parameters={"b": "y"}, progress=False)
    assert other["b"].tolist() == ["y"] and (out / "a-1_b-y" / "tiny.ipynb").exists()
    # two settings with one folder name ("/" is written "-"): the second is refused, naming the folder
    run_sweep(nb, {"a": [1]}, out, tables=["tab"], parameters={"b": "p/q"}, progress=False)
    with pytest.raises(ValueError) as exc:
        run_sweep(nb, {"a": [1]}, out, tables=["tab"], parameters={"b": "p-q"}, progress=False)
    folder = (out / "a-1_b-p-q").resolve()
    assert str(exc.value) == (
        f"{folder} holds a run made with other settings: its {POINT_FILE} says "
        "{'notebook': 'tiny.ipynb', 'values': {'a': 1, 'b': 'p/q'}}, this grid point is "
        "{'notebook': 'tiny.ipynb', 'values': {'a': 1, 'b': 'p-q'}}; delete the folder or give the sweep another --out")
    # another notebook's point in the same folder, and a folder without a record, are refused too
    with pytest.raises(ValueError, match="its sweep_point.json says {'notebook': 'tiny.ipynb'"):
        run_sweep(_notebook(tmp_path / "other.ipynb"), {"a": [1]}, out, tables=["tab"], parameters={"b": "x"},
                  progress=False)
    (out / "a-1_b-x" / POINT_FILE).unlink()
    with pytest.raises(ValueError, match=f"holds an executed notebook but no {POINT_FILE}, so its settings are "
                                         "unknown; delete the folder"):
        run_sweep(nb, {"a": [1]}, out, tables=["tab"], parameters={"b": "x"}, progress=False)


def test_a_name_both_swept_and_fixed_and_several_fixed_values_are_refused(tmp_path, capsys):
    from slswin_lib.cli import main
    from slswin_lib.sweep import run_sweep

    nb = _notebook(tmp_path / "tiny.ipynb")
    with pytest.raises(ValueError, match=r"\['a'\] both swept \(--param\) and fixed \(--set\); give each name once"):
        run_sweep(nb, {"a": [1, 2]}, tmp_path / "out", tables=["tab"], parameters={"a": 3}, progress=False)
    code = main(["sweep", str(nb), "--param", "a=1", "--set", "b=x,y", "--table", "tab", "--out", str(tmp_path / "o")])
    assert code == 2
    assert "error: --set b=... gives 2 values; --set takes one value (sweep several with --param)" in \
        capsys.readouterr().err
    assert not (tmp_path / "out").exists() and not (tmp_path / "o").exists()
