"""Where a run's time went: fold records read back, and each notebook's wall time split by stage."""
import json

import pytest

from slswin_lib.experiment import fold_times, notebook_time_split, run_profile, time_split_summary


def _record(fold_dir, finished, prepare, train, val, predict, steps=10):
    fold_dir.mkdir(parents=True)
    record = {"fingerprint": "x", "history": {"loss": [0.3], "step_loss": [0.3] * steps}, "prepare_seconds": prepare,
              "train_seconds": train, "val_seconds": val, "predict_seconds": predict, "steps": steps,
              "n_train": 100, "n_train_positive": 10, "label_variance": 0.09, "n_test": 50, "finished": finished}
    (fold_dir / "fold.json").write_text(json.dumps(record))


def test_fold_times_reads_every_record_under_the_root(tmp_path):
    runs = tmp_path / "runs" / "synthetic"
    _record(runs / "a" / "mae" / "fold_s01", 1050.0, prepare=1, train=40, val=4, predict=3)
    _record(runs / "b" / "me" / "fold_s01", 1140.0, prepare=2, train=18, val=0, predict=0)
    folds = fold_times(tmp_path)
    assert len(folds) == 2 and set(folds["run"]) == {"runs/synthetic/a/mae", "runs/synthetic/b/me"}
    a1 = folds[folds["run"] == "runs/synthetic/a/mae"].iloc[0]
    assert a1["optimiser_seconds"] == 36 and a1["fold_seconds"] == 44 and a1["step_share"] == pytest.approx(36 / 44)


def _executed(work, name, duration):
    folder = work / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.ipynb").write_text(json.dumps({"cells": [], "metadata": {"papermill": {"duration": duration}}}))


def _log(work, *lines):
    with open(work / "stage_times.jsonl", "a") as f:
        for notebook, stage, seconds, end in lines:
            f.write(json.dumps({"notebook": notebook, "stage": stage, "seconds": seconds, "end": end}) + "\n")


def test_each_notebook_is_split_into_its_stages_and_the_rest(tmp_path):
    # 04 ran 1000-1100 s (kernel 96 s): 60 s of steps, 20 s of prediction in two blocks; 06 ran
    # 1100-1150 s (no executed copy: its kernel time is taken as its wall time); a line written
    # before 04 started (an older run) belongs to no notebook
    (tmp_path / "notebook_times.tsv").write_text("04_training\t100.0\t1000.0\n06_ablation\t50.0\t1100.0\n")
    _executed(tmp_path, "04_training", 96.0)
    _log(tmp_path, ("04_training", "optimiser steps", 60.0, 1080.0), ("04_training", "prediction", 12.0, 1080.0),
         ("04_training", "prediction", 8.0, 1099.0), ("06_ablation", "plots and tables", 5.0, 1140.0),
         ("00_data", "rendering", 30.0, 900.0))
    split = notebook_time_split(tmp_path)
    assert split.index.tolist() == ["04_training", "06_ablation"]
    nb04 = split.loc["04_training"]
    assert nb04["optimiser steps"] == 60 and nb04["prediction"] == 20 and nb04["rendering"] == 0
    assert nb04["other"] == pytest.approx(96 - 80) and nb04["notebook start-up"] == pytest.approx(4)
    nb06 = split.loc["06_ablation"]
    assert nb06["plots and tables"] == 5 and nb06["other"] == 45 and nb06["notebook start-up"] == 0
    # every row adds up to its wall time
    assert (split.drop(columns="seconds").sum(axis=1) - split["seconds"]).abs().max() < 1e-9
    summary = time_split_summary(split)
    assert summary.index[:2].tolist() == ["other", "optimiser steps"]   # 16 + 45 s, then 60 s
    assert summary.loc["optimiser steps", "share"] == pytest.approx(60 / 150)


def test_lines_of_an_older_run_without_a_start_are_left_out(tmp_path):
    # 00 ran under an older ./run_all.sh, 04 was rerun with --from (the file is appended to)
    (tmp_path / "notebook_times.tsv").write_text("00_data\t40\n04_training\t20\t1000\n")
    split = notebook_time_split(tmp_path)
    assert split.index.tolist() == ["04_training"] and split.loc["04_training", "other"] == 20


def test_times_without_start_column_are_refused(tmp_path):
    (tmp_path / "notebook_times.tsv").write_text("04_training\t100\n")
    with pytest.raises(ValueError, match="no start times"):
        notebook_time_split(tmp_path)


def test_time_split_command_reads_the_runs_profile_prints_and_writes_the_table(tmp_path, capsys):
    import pandas as pd

    from slswin_lib.cli import main

    (tmp_path / "notebook_times.tsv").write_text("04_training\t20\t1000\n")
    (tmp_path / "run_all.json").write_text(json.dumps({"profile": "smoke", "dataset": "synthetic"}))
    _log(tmp_path, ("04_training", "optimiser steps", 8.0, 1010.0))
    assert run_profile(tmp_path) == "smoke"
    assert main(["time-split", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "04_training" in out and "profile smoke" in out
    table = pd.read_csv(tmp_path / "time_split.csv", index_col="notebook")
    assert table.loc["04_training", "optimiser steps"] == 8 and table.loc["04_training", "other"] == 12


def test_the_time_split_as_markdown_names_each_notebooks_largest_stages(tmp_path, capsys):
    from slswin_lib.cli import main

    (tmp_path / "notebook_times.tsv").write_text("04_training\t100.0\t1000.0\n")
    _executed(tmp_path, "04_training", 96.0)
    _log(tmp_path, ("04_training", "optimiser steps", 60.0, 1080.0), ("04_training", "prediction", 20.0, 1090.0))
    assert main(["time-split", str(tmp_path), "--markdown"]) == 0
    out = " ".join(capsys.readouterr().out.split())   # the cells' padding aside
    assert "| 04_training | 100 | optimiser steps 60, prediction 20, other 16 |" in out
    assert "| **all** | **100** (1.7 min) |" in out and "| optimiser steps | 60 | 60.0% |" in out
