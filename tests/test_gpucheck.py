"""``gpu-check``: its CPU run end to end (the CI test of the device path's code), the tiny set's known
geometry, a missing CUDA device and a device out of memory as one line each, ``./run_all.sh gpu-check``."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from slswin_lib.cli import main
from slswin_lib.config import DataConfig, get_profile
from slswin_lib.gpucheck import SIZES, run_gpu_check
from slswin_lib.gpucheck.run import EXIT_NO_CUDA, _device
from slswin_lib.gpucheck.speed import paper_hours
from slswin_lib.gpucheck.table import Table
from slswin_lib.gpucheck.tinyset import face_landmarks, tiny_set, true_flow
from slswin_lib.features.landmarks import DLIB68

ROOT = Path(__file__).resolve().parent.parent


def test_tiny_set_faces_have_dlib_landmarks_inside_the_crop():
    pts = face_landmarks(128, np.random.default_rng(0))
    assert pts.shape == (68, 2) and pts.min() >= 0 and pts.max() < 128
    # dlib's layout: the image-left eye and brow left of the image-right ones, brows above eyes above
    # the nose tip above the mouth above the chin; each eye from its left corner to its right one
    assert pts[DLIB68["left_eye"], 0].max() < pts[DLIB68["right_eye"], 0].min()
    assert pts[DLIB68["left_brow"], 1].max() < pts[DLIB68["left_eye"], 1].min()
    assert pts[DLIB68["left_eye"], 1].max() < pts[30, 1] < pts[DLIB68["mouth"], 1].min() < pts[8, 1]
    for eye in ("left_eye", "right_eye"):
        x = pts[DLIB68[eye], 0]
        assert x[0] == x.min() and x[3] == x.max()
    assert pts[17, 0] < pts[21, 0] < pts[22, 0] < pts[26, 0]      # brows: outer to inner, inner to outer
    assert pts[48, 0] == pts[DLIB68["outer_lips"], 0].min() and pts[54, 0] == pts[DLIB68["outer_lips"], 0].max()


def test_tiny_set_events_and_known_motion():
    cfg = DataConfig()
    videos = tiny_set(2, 3.0, cfg=cfg)
    assert [v.key for v in videos] == ["s01_0101", "s02_0101"]
    for v in videos:
        assert v.crops.shape == (90, 128, 128) and v.crops.dtype == np.uint8 and v.pts68.shape == (90, 68, 2)
        assert v.events[0].type == "mae" and all(0 <= e.onset < e.apex < e.offset < 90 for e in v.events)
        for e in v.events:   # durations within DataConfig's ranges (the first MaE may be cut to fit)
            lo, hi = cfg.me_seconds if e.type == "me" else cfg.mae_seconds
            assert e.length <= round(hi * cfg.fps) and (e.type == "mae" or e.length >= round(lo * cfg.fps))
        quiet = np.flatnonzero(~np.any(v.amps, axis=1))           # frames without expression motion
        i, j = int(quiet[0]), int(quiet[-1])
        # without expressions the motion is the head's translation, the same at every pixel
        shift = v.head[j, :, 2] - v.head[i, :, 2]
        np.testing.assert_allclose(true_flow(v, i, j), np.broadcast_to(shift, (128, 128, 2)), atol=1e-5)
        np.testing.assert_allclose(true_flow(v, i, i), 0.0, atol=1e-9)
        # at an expression's apex its bumps move their landmarks by about their amplitude
        e = v.events[0]
        moved = np.linalg.norm(v.pts68[e.apex] - v.pts68[i] - shift, axis=1)
        assert 0.5 * v.amps[e.apex].max() < moved.max() < 2.5 * v.amps[e.apex].max()


def test_a_missing_cuda_device_is_one_line_and_the_cpu_runs_instead(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    dev, size, line = _device("cuda")
    assert dev == torch.device("cpu") and size == "cpu"
    assert "\n" not in line and line.startswith("gpu-check: --device cuda was asked for, but torch ")
    assert "running what can run on the CPU" in line and "NVIDIA GPU" in line
    assert _device("cpu") == (torch.device("cpu"), "cpu", "")
    assert main(["gpu-check", "--device", "gpu", "--out", "unused"]) == 2     # not a device: the CLI's one line


def test_a_row_out_of_device_memory_is_one_line_and_the_next_row_runs(tmp_path, capsys):
    table = Table(tmp_path, {"card": "test card"}, torch.device("cpu"))

    def oom():
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB\nmore detail")

    failed = table.attempt("speed", "training X at batch 4096", oom, fix="lower TrainConfig.batch_size")
    ok = table.attempt("speed", "training Y", lambda: {"result": "1.0 samples/s", "value": 1.0})
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("gpu-check: training X at batch 4096: out of device memory")
    assert "test card" in err[0] and err[0].endswith("lower TrainConfig.batch_size")
    assert failed.status == "failed" and "OutOfMemoryError" in failed.error and ok.status == "ok"
    written = json.loads((tmp_path / "gpu_check.json").read_text())
    assert written["failed"] == ["training X at batch 4096"] and len(written["rows"]) == 2
    assert (tmp_path / "gpu_check.md").read_text().count("| speed |") == 2


@pytest.mark.slow
def test_gpu_check_on_the_cpu_runs_every_stage_and_writes_one_table(tmp_path, one_torch_thread, capsys):
    out = tmp_path / "out"
    assert main(["gpu-check", "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.md"]   # scratch removed
    d = json.loads((out / "gpu_check.json").read_text())
    rows = {r["what"]: r for r in d["rows"]}
    assert d["failed"] == [] and d["device"] == "cpu" and d["size_name"] == "cpu"
    size = SIZES["cpu"]
    checks = [r for r in d["rows"] if r["part"] == "check"]
    assert [r["status"] for r in checks] == ["ok"] * 6
    n_frames = int(round(size.seconds * DataConfig().fps))
    assert checks[0]["value"] == size.subjects * n_frames
    k = checks[1]["facts"]["k"]
    assert checks[1]["value"] == size.subjects * (n_frames - k)                 # every pair has its features
    assert checks[2]["value"] == n_frames - k == checks[4]["value"]             # the held-out video scored
    assert checks[2]["facts"]["steps"] >= 2 and checks[4]["facts"]["steps"] >= 1
    # the rates: torch TV-L1 (float32, bfloat16), OpenCV, ROI, and training + prediction per model
    speed = [r for r in d["rows"] if r["part"] == "speed"]
    assert all(r["value"] > 0 for r in speed if r["status"] == "ok")
    trained = [r for r in speed if r["what"].startswith("training")]
    assert len(trained) == 2 * len(size.train_models) and all(r["status"] == "ok" for r in trained)
    assert sum(r["what"].startswith("prediction") for r in speed) == 4          # SL-Swin-T 42 and SOFTNet x 2
    sl = rows["training SL-Swin-T 42 on cpu: paper recipe (SGD), batch 48, float32"]
    assert sl["facts"]["samples"] == size.train_steps * 48
    # the projection divides bench_scale's units by the rates measured in this run
    (proj,) = [r for r in d["rows"] if r["part"] == "projection"]
    rates = proj["facts"]["rates"]
    assert rates["train"] == sl["value"]
    again = paper_hours(get_profile("paper").train, rates)
    for name, hours in proj["facts"]["hours"].items():   # (the JSON sorts the keys: sums in another order)
        assert hours == pytest.approx(again[name], rel=1e-12) and set(hours) == {"flow", "roi", "train", "predict",
                                                                                 "total"}
        assert hours["total"] == pytest.approx(sum(hours[s] for s in rates))
    assert proj["value"] == pytest.approx(proj["facts"]["hours"]["casme2"]["total"])
    md = (out / "gpu_check.md").read_text()
    assert md.count("\n| ") == 1 + len(d["rows"])                                 # header + one line a row
    assert "table: " in capsys.readouterr().out


def test_run_all_gpu_check_needs_no_venv(tmp_path):
    """``./run_all.sh gpu-check`` sets nothing up: it runs $PYTHON when the venv is absent."""
    missing = tmp_path / "no-venv"
    env = {**os.environ, "SLSWIN_VENV": str(missing), "PYTHON": sys.executable}
    done = subprocess.run([str(ROOT / "run_all.sh"), "gpu-check", "--device", "gpu"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and "device 'gpu' is not a torch device" in done.stderr
    assert not missing.exists() and "[setup]" not in done.stdout


def test_cuda_asked_without_cuda_runs_what_it_can_and_exits_3(monkeypatch, tmp_path, capsys):
    """No CUDA: the line, then the CPU rows; here the tiny set fails (a stand-in for any failing row),
    so nothing after it can run, and the status still says that CUDA was missing."""
    import slswin_lib.gpucheck.tinyset as tinyset

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    def too_short(*args, **kwargs):
        raise ValueError("75 frames at 30 fps cannot hold a macro-expression; use longer videos")

    monkeypatch.setattr(tinyset, "tiny_set", too_short)
    table, status = run_gpu_check("cuda", tmp_path, progress=False)
    assert status == EXIT_NO_CUDA
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("gpu-check: --device cuda was asked for") and len(err) == 2
    assert "tiny set" in err[1] and "cannot hold a macro-expression" in err[1]
    written = json.loads((tmp_path / "gpu_check.json").read_text())
    assert written["note"] == err[0] and written["device"] == "cpu" and written["asked"] == "cuda"
    assert [r["status"] for r in written["rows"]] == ["failed"]
