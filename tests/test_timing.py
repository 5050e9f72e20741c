"""Stage timing (slswin_lib.timing) and the time split of a real smoke run."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from slswin_lib import timing
from slswin_lib.timing import (BOOTSTRAP, FLOW, LANDMARKS, OPTIMISER_STEPS, OTHER, PREDICTION, SPOTTING, STAGES,
                               START_UP, collect, parallel, stage, timed, totals)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh(monkeypatch):
    monkeypatch.delenv(timing.STAGE_LOG_ENV, raising=False)
    timing.reset()


def _busy(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def test_nested_stages_count_once_for_the_inner_stage():
    with stage(SPOTTING):
        _busy(0.05)
        with stage(BOOTSTRAP):
            _busy(0.10)
    t = totals()
    assert t[BOOTSTRAP] == pytest.approx(0.10, abs=0.02)
    assert t[SPOTTING] == pytest.approx(0.05, abs=0.02)     # the outer stage without the inner one
    assert set(t) == set(STAGES)


def test_timed_decorator_and_unknown_stage_names():
    @timed(PREDICTION)
    def work():
        _busy(0.03)
        return 7

    assert work() == 7 and totals()[PREDICTION] == pytest.approx(0.03, abs=0.02)
    with pytest.raises(ValueError, match="unknown stage 'training'"):
        timed("training")
    with pytest.raises(ValueError, match="unknown stage"):
        with stage("training"):
            pass


def test_a_parallel_wait_is_split_by_the_workers_seconds_less_what_was_timed_here():
    with parallel(PREDICTION) as wait:
        with stage(LANDMARKS):       # done in this process: counted as itself
            _busy(0.05)
        _busy(0.20)                  # the wait: 3 worker-seconds of steps to 1 of prediction
        wait.add({OPTIMISER_STEPS: 3.0, PREDICTION: 0.5})
        wait.add({PREDICTION: 0.5})
    t = totals()
    assert t[LANDMARKS] == pytest.approx(0.05, abs=0.02)
    assert t[OPTIMISER_STEPS] == pytest.approx(0.15, abs=0.02) and t[PREDICTION] == pytest.approx(0.05, abs=0.02)


def test_a_wait_without_reports_goes_to_its_fallback():
    with parallel(FLOW):
        _busy(0.04)
    assert totals()[FLOW] == pytest.approx(0.04, abs=0.02)


def test_a_workers_seconds_are_collected_not_logged(tmp_path, monkeypatch):
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(timing.STAGE_LOG_ENV, str(log))
    with collect() as seconds:
        with stage(FLOW):
            _busy(0.02)
    assert set(seconds) == {FLOW} and not log.exists() and totals()[FLOW] == 0


def test_outermost_blocks_append_their_stages_to_the_log(tmp_path, monkeypatch):
    log = tmp_path / "stages.jsonl"
    monkeypatch.setenv(timing.STAGE_LOG_ENV, str(log))
    monkeypatch.setenv(timing.NOTEBOOK_ENV, "05_spotting_evaluation")
    with stage(SPOTTING):
        with stage(BOOTSTRAP):
            _busy(0.01)
        assert not log.exists()      # written when the outermost block ends
    with stage(PREDICTION):
        pass
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["notebook"], r["stage"]) for r in lines] == [("05_spotting_evaluation", BOOTSTRAP),
                                                            ("05_spotting_evaluation", SPOTTING),
                                                            ("05_spotting_evaluation", PREDICTION)]
    assert all(r["end"] <= time.time() for r in lines)


@pytest.mark.slow
def test_the_stages_of_a_smoke_run_add_up_to_its_wall_time(tmp_path):
    """./run_all.sh on the smoke profile (04: rendering, features, LOSO folds; 09: spotting and
    bootstrap intervals); its time split accounts for every notebook's wall time within 5 %."""
    env = {**os.environ, "SLSWIN_VENV": sys.prefix, "SLSWIN_WORK": str(tmp_path / "work"),
           "SLSWIN_FIGURES": str(tmp_path / "figures"), "MPLBACKEND": "Agg"}
    for args in (["--only", "04"], ["--from", "09", "--only", "09"]):
        run = subprocess.run([str(ROOT / "run_all.sh"), "--profile", "smoke", *args], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=1800)
        assert run.returncode == 0, run.stderr[-3000:]
    assert "seconds per notebook and stage (profile smoke" in run.stdout
    from slswin_lib.experiment import notebook_time_split

    split = notebook_time_split(tmp_path / "work")
    assert split.index.tolist() == ["04_training", "09_released_predictions"]
    named = split[list(STAGES)]
    # the named stages were timed where the work happened and fit inside the kernel's run
    assert (named >= 0).all().all() and (split[OTHER] >= -0.05 * split["seconds"]).all()
    assert (split[START_UP] >= 0).all()
    total = split[list(STAGES) + [OTHER, START_UP]].sum(axis=1)
    assert ((total - split["seconds"]).abs() <= 0.05 * split["seconds"]).all()
    nb04, nb09 = split.loc["04_training"], split.loc["09_released_predictions"]
    for name in ("rendering", "landmarks", "optical flow", "ROI features", "optimiser steps", "prediction",
                 "plots and tables"):
        assert nb04[name] > 0, name
    assert nb09["spotting and evaluation"] > 0 and nb09["bootstrap intervals"] > 0


def test_a_model_trained_in_this_process_is_split_by_its_folds_seconds(monkeypatch):
    """``experiment.train_all`` (the spotters of notebook 11) runs its fold here, not in a worker: its
    wall time goes to the stages the fold reports, as a worker's fold does."""
    from types import SimpleNamespace

    from slswin_lib.experiment import FoldResult, protocols

    def fake_fold(job, progress=True):
        _busy(0.05)
        return FoldResult(job.name, {}, {}, {OPTIMISER_STEPS: 3.0, PREDICTION: 1.0})

    monkeypatch.setattr(protocols, "train_fold", fake_fold)
    for name in ("check_input_size", "_check_features"):
        monkeypatch.setattr(protocols, name, lambda *a: None)
    monkeypatch.setattr(protocols, "_model_facts", lambda p: {})
    es = SimpleNamespace(inputs=dict, infos=(), k=3, expression="me")
    p = SimpleNamespace(model=SimpleNamespace(name="softnet"), train=None)
    assert protocols.train_all(es, p, "unused").name == "all"
    t = totals()
    assert t[OPTIMISER_STEPS] >= 0.03 and round(t[OPTIMISER_STEPS] / (t[OPTIMISER_STEPS] + t[PREDICTION]), 2) == 0.75
