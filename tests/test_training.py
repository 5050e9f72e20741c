"""Labels, training arrays, the training loop (resume, NaN) and the LOSO protocol."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from slswin_lib.config import get_profile
from slswin_lib.training.labels import make_labels, original_labels, pseudo_labels
from slswin_lib.experiment import ExpressionSet, VideoInfo, baseline, loso, megc2022
from slswin_lib.training.samples import augment_positives, downsample_negatives, training_arrays
from slswin_lib.training.trainer import TrainingError, fit, load_checkpoint

MODEL = "sl_swin_tiny_patch6_window7_42"


def test_original_labels_hand_computed():
    assert original_labels(12, [[3, 5], [9, 9]]).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0]
    assert original_labels(5, np.empty((0, 2))).tolist() == [0] * 5


def test_pseudo_labels_mark_windows_that_overlap():
    # window [i, i + 2] overlaps [5, 6] for i = 3 .. 6
    assert pseudo_labels(10, 2, [[5, 6]]).tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    # pseudo labels contain the original ones
    o, p = original_labels(50, [[10, 14], [30, 31]]), pseudo_labels(50, 4, [[10, 14], [30, 31]])
    assert np.all(p >= o) and p.sum() == (14 - 6 + 1) + (31 - 26 + 1)


def test_make_labels_rejects_unknown_and_inverted():
    with pytest.raises(ValueError, match="unknown labelling 'soft'"):
        make_labels(10, 2, [[1, 2]], "soft")
    with pytest.raises(ValueError, match="onset > offset"):
        make_labels(10, 2, [[5, 2]])


def test_downsample_keeps_positives_and_half_the_negatives():
    labels = np.array([0] * 10 + [1] * 4 + [0] * 10, np.float32)
    idx = downsample_negatives(labels, 0.5, np.random.default_rng(0))
    assert np.all(np.diff(idx) > 0)
    assert (labels[idx] == 1).sum() == 4 and (labels[idx] == 0).sum() == 10
    balanced = np.array([1, 1, 0, 0], np.float32)
    assert downsample_negatives(balanced, 0.5, np.random.default_rng(0)).tolist() == [0, 1, 2, 3]


def test_augment_positives_flip_blur_noise():
    rng = np.random.default_rng(0)
    x = rng.random((2, 42, 42, 3)).astype(np.float32)
    out = augment_positives(x, rng)
    assert out.shape == (6, 42, 42, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], x[0][:, ::-1])
    assert out[2].std() < x[0].std()                      # blur smooths
    assert 0.05 < np.abs(out[4] - x[0]).mean() < 0.1       # noise of std 0.1, clipped
    assert out.min() >= 0 and out.max() <= 1


def test_training_arrays_normalise_augment_and_cap():
    rng = np.random.default_rng(1)
    feats = [rng.normal(size=(40, 42, 42, 3)).astype(np.float32) * 3]
    labels = [pseudo_labels(40, 2, [[10, 12]])]       # i = 8 .. 12: 5 positives, 35 negatives
    x, y = training_arrays(feats, labels, keep_negatives=0.5, augment=True, rng=rng)
    assert x.shape == (5 + 17 + 15, 3, 42, 42) and y.sum() == 20
    first = x[0]
    assert np.allclose(first.reshape(3, -1).min(1), 0) and np.allclose(first.reshape(3, -1).max(1), 1)
    x2, y2 = training_arrays(feats, labels, keep_negatives=0.5, augment=False, rng=rng, max_samples=10)
    assert len(y2) == 10 and y2.sum() == 5


def _toy(n=24, seed=0):
    g = np.random.default_rng(seed)
    return g.random((n, 3, 42, 42), dtype=np.float32), (g.random(n) > 0.5).astype(np.float32)


def test_fit_writes_checkpoints_and_refuses_another_run(tmp_path):
    x, y = _toy()
    ckpt = tmp_path / "c.pt"
    model, hist = fit(MODEL, x, y, epochs=1, batch_size=12, lr=5e-4, seed=0, checkpoint=ckpt, progress=False,
                      device="cpu", meta={"k": 6})
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 1 and state["meta"] == {"k": 6} and len(hist.loss) == 1
    with pytest.raises(TrainingError, match="belongs to another run"):
        fit(MODEL, x, y, epochs=1, batch_size=12, lr=1e-3, seed=0, checkpoint=ckpt, progress=False)


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    x, y = _toy()
    y[3] = np.nan
    with pytest.raises(TrainingError, match="loss became nan at epoch 1, batch 1; no epoch finished"):
        fit(MODEL, x, y, epochs=1, batch_size=24, lr=5e-4, seed=0, checkpoint=tmp_path / "c.pt", progress=False)


@pytest.mark.slow
def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import sys, numpy as np
        from slswin_lib.training.trainer import fit
        g = np.random.default_rng(0)
        x, y = g.random((24, 3, 42, 42), dtype=np.float32), (g.random(24) > 0.5).astype(np.float32)
        fit("{MODEL}", x, y, epochs=4, batch_size=12, lr=5e-4, seed=3, checkpoint=sys.argv[1],
            progress=False, device="cpu")
    """))
    ckpt = tmp_path / "killed.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt)])
    deadline = time.time() + 240
    while time.time() < deadline and not ckpt.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    epoch_at_kill = load_checkpoint(ckpt)["epoch"]
    assert 1 <= epoch_at_kill < 4, "the run should have been killed mid-way"
    g = np.random.default_rng(0)
    x, y = g.random((24, 3, 42, 42), dtype=np.float32), (g.random(24) > 0.5).astype(np.float32)
    resumed, hist = fit(MODEL, x, y, epochs=4, batch_size=12, lr=5e-4, seed=3, checkpoint=ckpt,
                        progress=False, device="cpu")
    assert hist.resumed_from == epoch_at_kill and len(hist.loss) == 4
    whole, _ = fit(MODEL, x, y, epochs=4, batch_size=12, lr=5e-4, seed=3, checkpoint=tmp_path / "whole.pt",
                   progress=False, device="cpu")
    for (n, a), (_, b) in zip(resumed.state_dict().items(), whole.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n)


def _toy_set(infos, feats, k=3, expression="mae"):
    return ExpressionSet(expression, k, list(infos), feats, "toy")


def _toy_loso(n_subjects=3, n_frames=40, k=3):
    """Features where expression samples carry a bright blob, so the task is learnable."""
    rng = np.random.default_rng(0)
    infos, feats = [], {}
    for s in range(n_subjects):
        key = f"s{s}_0101"
        on = 10 + 3 * s
        infos.append(VideoInfo(key, f"s{s}", "0101", n_frames, ((on, on + 4),)))
        f = rng.normal(0, 0.1, size=(n_frames - k, 42, 42, 3)).astype(np.float32)
        f[on - k:on + 5, 10:30, 10:30, :] += 2.0
        feats[key] = f
    return infos, feats


@pytest.mark.slow
def test_loso_on_a_two_worker_dask_cluster_resumes_finished_folds(tmp_path):
    infos, feats = _toy_loso()
    profile = get_profile("smoke").replace(train={"epochs": 1, "max_train_samples": 32})
    scores = loso(_toy_set(infos, feats), profile, out_dir=tmp_path / "run", workers=2, progress=False)
    assert scores.keys == [i.key for i in infos]
    assert all(len(scores.scores[i.key]) == 37 and np.all(np.isfinite(scores.scores[i.key])) for i in infos)
    assert len(scores.gt) == 3
    manifest = (tmp_path / "run" / "manifest.json").read_text()
    assert '"protocol": "MEGC 2021 LOSO"' in manifest and '"git_commit"' in manifest
    # a second call finds every fold done and returns the same scores without training
    before = {p: os.path.getmtime(p) for p in (tmp_path / "run").glob("fold_*/checkpoint.pt")}
    again = loso(_toy_set(infos, feats), profile, out_dir=tmp_path / "run", workers=1, progress=False)
    assert before == {p: os.path.getmtime(p) for p in (tmp_path / "run").glob("fold_*/checkpoint.pt")}
    for key in scores.keys:
        np.testing.assert_array_equal(again.scores[key], scores.scores[key])


def test_loso_input_errors(tmp_path):
    infos, feats = _toy_loso()
    profile = get_profile("smoke")
    with pytest.raises(ValueError, match="expected n_frames - k = 38; were the features extracted with k = 2"):
        loso(_toy_set(infos, feats, k=2), profile, out_dir=tmp_path)
    with pytest.raises(ValueError, match=r"subject\(s\) \['s9'\] have no mae video"):
        loso(_toy_set(infos, feats), profile, out_dir=tmp_path, subjects=["s9"])
    no_pos = [VideoInfo(i.key, i.subject, i.video_code, i.n_frames, ()) for i in infos]
    with pytest.raises(TrainingError, match="fold s0: the training videos hold no mae sample"):
        loso(_toy_set(no_pos, feats), profile, out_dir=tmp_path / "x", subjects=["s0"], progress=False)


def test_baseline_scores_are_roi_flow_magnitude(tmp_path):
    infos, feats = _toy_loso()
    s = baseline(_toy_set(infos, feats), out_dir=tmp_path)
    f = feats["s0_0101"]
    np.testing.assert_allclose(s.scores["s0_0101"], np.sqrt(f[..., 0] ** 2 + f[..., 1] ** 2).mean(axis=(1, 2)),
                               rtol=1e-6)


def test_megc2022_trains_on_all_and_scores_unseen_videos(tmp_path):
    from slswin_lib.scores import read_submission, spot_score_set, submission_table, write_submission

    infos, feats = _toy_loso()
    test = [VideoInfo("t1_clip", "t1", "clip", 40, ())]
    test_feats = {"t1_clip": np.random.default_rng(5).normal(0, 0.1, (37, 42, 42, 3)).astype(np.float32)}
    profile = get_profile("smoke").replace(train={"epochs": 1, "max_train_samples": 32})
    scores = megc2022(_toy_set(infos, feats), _toy_set(test, test_feats), profile, out_dir=tmp_path,
                      progress=False)
    assert scores.keys == ["t1_clip"] and len(scores.scores["t1_clip"]) == 37 and len(scores.gt) == 0
    _, _, spotted = spot_score_set(scores, 0.6, "megc")
    rows = submission_table({"mae": spotted})
    assert len(rows) and (rows["vid"] == "t1_clip").all(), "a peak is always found in non-constant scores"
    path = write_submission(tmp_path / "cas_pred.csv", rows)
    assert (read_submission(path)["pred_offset"] - read_submission(path)["pred_onset"] == 6).all()
    manifest = (tmp_path / "manifest.json").read_text()
    assert '"protocol": "MEGC 2022"' in manifest and "s0_0101" in manifest
