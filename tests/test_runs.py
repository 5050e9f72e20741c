"""Where a run's time went: fold records read back and assigned to the notebook that trained them."""
import json

import pytest

from slswin_lib.experiment import fold_times, notebook_time_split


def _record(fold_dir, finished, prepare, train, val, predict, steps=10):
    fold_dir.mkdir(parents=True)
    record = {"fingerprint": "x", "history": {"loss": [0.3], "step_loss": [0.3] * steps}, "prepare_seconds": prepare,
              "train_seconds": train, "val_seconds": val, "predict_seconds": predict, "steps": steps,
              "n_train": 100, "n_train_positive": 10, "label_variance": 0.09, "n_test": 50, "finished": finished}
    (fold_dir / "fold.json").write_text(json.dumps(record))


def test_folds_are_split_by_the_notebook_running_when_they_finished(tmp_path):
    runs = tmp_path / "runs" / "synthetic"
    # notebook 04 ran 1000-1100 s and trained two folds; 06 ran 1100-1150 s and trained one;
    # 07 trained none; a fold from an older run (before 04 started) belongs to no notebook
    _record(runs / "a" / "mae" / "fold_s01", 1050.0, prepare=1, train=40, val=4, predict=3)
    _record(runs / "a" / "mae" / "fold_s02", 1099.5, prepare=1, train=40, val=4, predict=3)
    _record(runs / "b" / "me" / "fold_s01", 1140.0, prepare=2, train=18, val=0, predict=0)
    _record(runs / "old" / "me" / "fold_s01", 900.0, prepare=0, train=5, val=0, predict=0)
    (tmp_path / "notebook_times.tsv").write_text("04_training\t100\t1000\n06_ablation\t50\t1100\n"
                                                 "07_labels\t10\t1150\n")
    folds = fold_times(tmp_path)
    assert len(folds) == 4 and set(folds["run"]) == {"runs/synthetic/a/mae", "runs/synthetic/b/me",
                                                     "runs/synthetic/old/me"}
    a1 = folds[(folds["run"] == "runs/synthetic/a/mae") & (folds["fold"] == "s01")].iloc[0]
    assert a1["optimiser_seconds"] == 36 and a1["fold_seconds"] == 44 and a1["step_share"] == pytest.approx(36 / 44)

    split = notebook_time_split(tmp_path, workers=2)
    assert split.index.tolist() == ["04_training", "06_ablation", "07_labels"]
    nb04 = split.loc["04_training"]
    assert nb04["folds"] == 2 and nb04["fold_seconds"] == 88
    assert nb04["step_share"] == pytest.approx(72 / 88) and nb04["val share"] == pytest.approx(8 / 88)
    assert nb04["prepare share"] == pytest.approx(2 / 88) and nb04["predict share"] == pytest.approx(6 / 88)
    assert nb04["wall_share"] == pytest.approx(72 / (100 * 2))
    nb06 = split.loc["06_ablation"]
    assert nb06["folds"] == 1 and nb06["step_share"] == pytest.approx(18 / 20)
    assert nb06["wall_share"] == pytest.approx(18 / 100)
    assert split.loc["07_labels", "folds"] == 0


def test_lines_of_an_older_run_without_a_start_are_left_out(tmp_path):
    _record(tmp_path / "runs" / "synthetic" / "a" / "me" / "fold_s01", 1010.0, prepare=1, train=9, val=1, predict=1)
    # 00 ran under an older ./run_all.sh, 04 was rerun with --from (the file is appended to)
    (tmp_path / "notebook_times.tsv").write_text("00_data\t40\n04_training\t20\t1000\n")
    split = notebook_time_split(tmp_path, workers=1)
    assert split.index.tolist() == ["04_training"] and split.loc["04_training", "folds"] == 1


def test_times_without_start_column_are_refused(tmp_path):
    (tmp_path / "notebook_times.tsv").write_text("04_training\t100\n")
    with pytest.raises(ValueError, match="no start times"):
        notebook_time_split(tmp_path, workers=2)


def test_time_split_command_prints_and_writes_the_table(tmp_path, capsys):
    import pandas as pd

    from slswin_lib.cli import main

    _record(tmp_path / "runs" / "synthetic" / "a" / "me" / "fold_s01", 1010.0, prepare=1, train=9, val=1, predict=1)
    (tmp_path / "notebook_times.tsv").write_text("04_training\t20\t1000\n")
    assert main(["time-split", str(tmp_path), "--profile", "smoke"]) == 0
    assert "04_training" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "time_split.csv", index_col="notebook")
    # smoke trains one fold at a time: 8 optimiser seconds of a 20 s notebook
    assert table.loc["04_training", "step_share"] == pytest.approx(8 / 11)
    assert table.loc["04_training", "wall_share"] == pytest.approx(8 / 20)
