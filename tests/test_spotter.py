"""Spotting any video: deployable checkpoints, the ``spot`` command, its errors.

The test video is a 100-frame mp4 written from the smoke benchmark's subject s02 (frames 140-239),
which holds exactly one macro-expression and no micro-expression, so the file really goes through
the video reader. Features of ``spot`` are cached under the slswin cache dir (like every cache).
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from slswin_lib.cli import main
from slswin_lib.deploy import (BASELINE_K, INTERVAL_COLUMNS, SPOTTER_FORMAT, SpotterError, export_spotter,
                               load_spotter, rescale_k, spot_video)
from slswin_lib.deploy.choice import TRAINING_FREE

CLIP_VIDEO, CLIP_START, CLIP_STOP = "s02_0507", 140, 240


def _iou(a: tuple[int, int], b: tuple[int, int]) -> float:
    inter = min(a[1], b[1]) - max(a[0], b[0]) + 1
    return max(inter, 0) / (max(a[1], b[1]) - min(a[0], b[0]) + 1)


def _write_mp4(path: Path, frames, fps: float = 30.0) -> Path:
    import cv2

    frames = list(frames)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="session")
def smoke_ds():
    from slswin_lib.experiment import open_dataset

    return open_dataset("smoke")


@pytest.fixture(scope="session")
def clip(smoke_ds, tmp_path_factory):
    """(mp4 path, ground-truth MaE intervals in clip frames)."""
    video = smoke_ds[CLIP_VIDEO]
    inside = [e for e in video.events if e.onset >= CLIP_START and e.offset < CLIP_STOP]
    touching = [e for e in video.events if e.offset >= CLIP_START and e.onset < CLIP_STOP]
    assert inside == touching and [e.type for e in inside] == ["mae"], video.events
    path = _write_mp4(tmp_path_factory.mktemp("clip") / "smoke_s02.mp4", video.frames(CLIP_START, CLIP_STOP))
    return path, [(e.onset - CLIP_START, e.offset - CLIP_START) for e in inside]


@pytest.fixture(scope="session")
def spotters(smoke_ds, tmp_path_factory):
    """Smoke-profile spotters (1 epoch) for both types: {type: (path, ExpressionSet)}."""
    from slswin_lib.config import get_profile
    from slswin_lib.experiment import expression_set

    out = tmp_path_factory.mktemp("spotters")
    result = {}
    for e in ("me", "mae"):
        es = expression_set(smoke_ds, e, "smoke", progress=False)
        result[e] = (export_spotter(es, get_profile("smoke"), out=out, progress=False), es)
    return result


def test_rescale_k_hand_computed():
    assert rescale_k(18, 30.0, 30.0) == 18
    assert rescale_k(18, 24.0, 30.0) == 14          # 14.4
    assert rescale_k(6, 200.0, 30.0) == 40
    assert rescale_k(37, 30.0, 200.0) == 6           # SAMM-LV ME on a 30 fps video: 5.55
    assert rescale_k(2, 10.0, 30.0) == 1             # never below 1
    with pytest.raises(ValueError, match="positive"):
        rescale_k(6, 0.0, 30.0)


def test_baseline_recovers_the_macro_expression(clip, tmp_path, capsys):
    path, gt = clip
    out = tmp_path / "out"
    assert main(["spot", str(path), "--out", str(out), "--scorer", "baseline", "--spotters", str(tmp_path),
                 "--profile", "smoke", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "forced (--scorer baseline)" in printed and str(out / "intervals.csv") in printed
    df = pd.read_csv(out / "intervals.csv")
    assert list(df.columns) == INTERVAL_COLUMNS and set(df["scorer"]) == {"baseline"}
    mae = df[df["type"] == "mae"]
    best = max(_iou((a, b), g) for a, b in zip(mae["pred_onset"], mae["pred_offset"]) for g in gt)
    assert best >= 0.5, (mae, gt)
    k = BASELINE_K["mae"]                          # 30 fps: the paper's k unchanged
    assert ((mae["pred_offset"] - mae["pred_onset"]) == 2 * k).all()
    assert (out / "scores.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _ranking(folder: Path, f1: dict[str, dict[str, float]]) -> None:
    """A ranking.csv as notebook 05 writes it: scorer -> type -> nested-LOSO F1 (interval +- 0.05)."""
    rows = [{"method": scorer, "scorer": scorer, "kind": "training-free" if scorer in TRAINING_FREE else "trained",
             "type": e, "F1": v, "F1 low": v - 0.05, "F1 high": v + 0.05, "matching": "authors",
             "threshold": "nested LOSO t", "setting": "t", "deploy": None, "profile": "smoke", "written": "now"}
            for scorer, per_type in f1.items() for e, v in per_type.items()]
    pd.DataFrame(rows).to_csv(folder / "ranking.csv", index=False)


def test_spot_uses_the_last_runs_best_spotter_by_default(spotters, clip, tmp_path, monkeypatch, capsys):
    """runs/<profile>/spotters (here $SLSWIN_WORK/spotters) holds the exported spotters and the ranking:
    ``spot VIDEO`` with no option takes, per type, the best nested-LOSO F1, never a trained spotter below
    the baseline."""
    import json
    import shutil

    from slswin_lib.config import get_profile
    from slswin_lib.deploy import spotter_path, spotters_dir

    path, _ = clip
    monkeypatch.setenv("SLSWIN_WORK", str(tmp_path / "work"))
    folder = spotters_dir("smoke")
    assert folder == tmp_path / "work" / "spotters"
    model = get_profile("smoke").model.name
    for e, (ckpt, _) in spotters.items():
        spotter_path(folder, model, e).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ckpt, spotter_path(folder, model, e))
    # MaE: the model is best; ME: the model is below the baseline, the optical-flow spotter best
    _ranking(folder, {model: {"mae": 0.6, "me": 0.10}, "baseline": {"mae": 0.3, "me": 0.12},
                      "of_spotter": {"mae": 0.5, "me": 0.20}})
    out = tmp_path / "out"
    assert main(["spot", str(path), "--out", str(out), "--no-progress"]) == 0
    meta = json.loads((out / "intervals.json").read_text())
    assert {e: d["scorer"] for e, d in meta["types"].items()} == {"me": "of_spotter", "mae": model}
    reason = meta["types"]["me"]["choice"]["reason"]
    assert reason.startswith("the best nested-LOSO ME F1 on the benchmark (of_spotter: 0.200 [0.150, 0.250]")
    assert f"below the training-free baseline and never the default: {model} 0.100" in reason
    assert meta["types"]["mae"]["choice"]["checkpoint"] == str(spotter_path(folder, model, "mae"))
    printed = capsys.readouterr().out
    assert f"MAE: {model} - the best nested-LOSO MAE F1" in printed
    # a forced scorer, and one that does not exist
    assert main(["spot", str(path), "--out", str(out), "--scorer", "mae=baseline", "--no-progress"]) == 0
    meta = json.loads((out / "intervals.json").read_text())
    assert {e: d["scorer"] for e, d in meta["types"].items()} == {"me": "of_spotter", "mae": "baseline"}
    assert main(["spot", str(path), "--out", str(out), "--scorer", "softnet", "--no-progress"]) == 2
    assert "--scorer 'softnet' is not available for ME; choose one of ['of_spotter', 'baseline', " \
           f"'{model}']" in capsys.readouterr().err


def test_exported_checkpoints_carry_every_setting(spotters):
    from slswin_lib.config import get_profile

    p = get_profile("smoke")
    for e, (path, es) in spotters.items():
        assert path.name == f"spotter_{e}.pt"
        model, meta = load_spotter(path)
        assert not model.training
        assert meta["format"] == SPOTTER_FORMAT and meta["expression"] == e
        assert meta["model_name"] == p.model.name and meta["input_size"] == 42
        assert meta["k"] == es.k and meta["fps"] == 30.0 and meta["labelling"] == "pseudo"
        assert 0 < meta["t"] < 1 and meta["t_source"]
        assert meta["feature_config"] == p.features
        tr = meta["training"]
        assert tr["dataset"] == "synthetic" and tr["subjects"] == ["s01", "s02", "s03"]
        assert tr["n_videos"] == len(es.infos) and tr["profile"] == "smoke" and tr["epochs"] == 1
        assert meta["slswin"] and "git_commit" in meta
        x = torch.zeros(2, 3, 42, 42)
        assert model(x).shape == (2, 1)


def test_spot_with_checkpoints_end_to_end(spotters, clip, tmp_path, capsys):
    """Both checkpoints' raw per-type output (--keep-overlaps: no one-label rule between the types)."""
    path, _ = clip
    out = tmp_path / "out"
    (me, me_es), (mae, mae_es) = spotters["me"], spotters["mae"]
    assert main(["spot", str(path), "--me-checkpoint", str(me), "--mae-checkpoint", str(mae),
                 "--out", str(out), "--no-progress", "--keep-overlaps"]) == 0
    printed = capsys.readouterr().out
    assert "baseline" not in printed and f"k ME {me_es.k}, MAE {mae_es.k}" in printed
    df = pd.read_csv(out / "intervals.csv")
    assert list(df.columns) == INTERVAL_COLUMNS
    assert len(df) >= 2 and set(df["type"]) <= {"me", "mae"} and set(df["vid"]) == {"smoke_s02"}
    for col in ("pred_onset", "pred_offset", "apex"):
        assert df[col].dtype == np.int64
    assert df["score"].dtype == np.float64 and np.isfinite(df["score"]).all()
    k = df["type"].map({"me": me_es.k, "mae": mae_es.k})
    assert (df["pred_offset"] - df["pred_onset"] == 2 * k).all() and (df["apex"] - df["pred_onset"] == k).all()
    assert (df["pred_onset"] >= 0).all() and (df["pred_offset"] < CLIP_STOP - CLIP_START).all()
    import matplotlib.image

    img = matplotlib.image.imread(out / "scores.png")
    assert img.ndim == 3 and img.shape[0] > img.shape[1] / 3  # two stacked panels


def test_only_given_types_and_fps_rescaling(spotters, clip):
    path, _ = clip
    me, es = spotters["me"]
    df = spot_video(path, me=me, fps=15.0, progress=False)
    assert set(df["type"]) <= {"me"} and df.attrs["k"] == {"me": rescale_k(es.k, 15.0, 30.0)}
    assert df.attrs["fps"] == 15.0 and df.attrs["n_frames"] == CLIP_STOP - CLIP_START
    with pytest.raises(SpotterError, match="swap"):
        spot_video(path, me=spotters["mae"][0], progress=False)


def test_bad_checkpoints(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(SpotterError, match="not a spotter checkpoint"):
        load_spotter(junk)
    other = tmp_path / "other.pt"
    torch.save({"model": {}, "optimizer": {}}, other)
    with pytest.raises(SpotterError, match="training checkpoint"):
        load_spotter(other)
    with pytest.raises(FileNotFoundError):
        load_spotter(tmp_path / "missing.pt")


def test_frame_folder_needs_fps(tmp_path):
    import cv2

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"img{i + 1}.jpg"), np.full((32, 32, 3), 128, np.uint8))
    with pytest.raises(ValueError, match="--fps"):
        spot_video(tmp_path, progress=False)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slswin_lib", "spot", *args, "--no-progress"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})


@pytest.mark.slow
def test_cli_errors_are_one_clear_line(tmp_path):
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(np.random.default_rng(1).bytes(20000))
    r = _run_cli(str(corrupt), "--out", str(tmp_path / "a"))
    assert r.returncode == 2 and f"error: {corrupt}: OpenCV cannot decode" in r.stderr

    grey = _write_mp4(tmp_path / "grey.mp4", [np.full((120, 160, 3), 128, np.uint8)] * 40)
    r = _run_cli(str(grey), "--out", str(tmp_path / "b"), "--profile", "smoke")
    assert r.returncode == 2 and "error: " in r.stderr and "no face found in any of its 40 frames" in r.stderr

    fake = tmp_path / "fake.pt"
    fake.write_bytes(b"not a checkpoint")
    r = _run_cli(str(grey), "--me-checkpoint", str(fake), "--out", str(tmp_path / "c"))
    assert r.returncode == 2 and f"error: {fake}: not a spotter checkpoint" in r.stderr
    assert not (tmp_path / "c" / "intervals.csv").exists()


@pytest.mark.parametrize("display", ["ViT-B", "SL-ViT-B", "Swin-T", "L-Swin-T", "S-Swin-T", "SL-Swin-T"])
def test_every_table4_model_exports_and_loads(display, tmp_path, monkeypatch):
    """A spotter stores its model's construction settings and is rebuilt from them (the smoke
    profile's authors' ViT-B does not fit timm's ViT-B), at a one-step budget on toy features."""
    from slswin_lib.config import get_profile
    from slswin_lib.experiment import ExpressionSet, VideoInfo
    from slswin_lib.models import TABLE4, count_params, model_kwargs, spotting_model

    monkeypatch.setenv("SLSWIN_WORK", str(tmp_path / "work"))
    assert len(TABLE4) == 6 and display in TABLE4
    name = f"{TABLE4[display]}_42"
    p = get_profile("smoke").replace(model={"name": name},
                                     train={"steps": 1, "batch_size": 4, "max_train_samples": 8, "device": "cpu"})
    rng = np.random.default_rng(0)
    k, n = 3, 16
    infos = [VideoInfo(f"s{s}_01", f"s{s}", "01", n, ((5, 8),)) for s in range(2)]
    feats = {i.key: rng.random((n - k, 42, 42, 3), dtype=np.float32) for i in infos}
    es = ExpressionSet("mae", k, infos, feats, "toy")
    path = export_spotter(es, p, out=tmp_path / "spotter.pt", fps=25.0, progress=False)
    model, meta = load_spotter(path)
    construction = model_kwargs(name, p.model)
    assert meta["model_name"] == name and meta["model_kwargs"] == json_plain(construction)
    assert count_params(model) == count_params(spotting_model(name, construction, device="meta"))
    trained = torch.load(path, weights_only=True)["state_dict"]
    for key, value in model.state_dict().items():
        torch.testing.assert_close(value, trained[key], rtol=0, atol=0, msg=key)
    assert model(torch.zeros(2, 3, 42, 42)).shape == (2, 1) and meta["fps"] == 25.0


def json_plain(obj):
    import json

    return json.loads(json.dumps(obj))


def test_a_spotter_of_format_1_is_refused_with_the_fix(spotters, tmp_path):
    path, _ = spotters["me"]
    obj = torch.load(path, weights_only=True)
    obj["meta"] = {k: v for k, v in obj["meta"].items() if k != "model_kwargs"} | {"format_version": 1}
    old = tmp_path / "old.pt"
    torch.save(obj, old)
    with pytest.raises(SpotterError, match="format 1 does not record how its model was built.*re-export"):
        load_spotter(old)
