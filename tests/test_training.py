"""Labels, training arrays, the training loop (resume, NaN, device, autocast) and the LOSO protocol."""
import dataclasses
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from slswin_lib.config import TrainConfig, get_profile
from slswin_lib.training.labels import make_labels, original_labels, pseudo_labels
from slswin_lib.experiment import ExpressionSet, VideoInfo, baseline, local_cluster, loso, megc2022
from slswin_lib.training.samples import augment_positives, downsample_negatives, training_arrays
from slswin_lib.training.trainer import (DeviceError, TrainingError, fit, load_checkpoint, plan_stages, predict,
                                        select_device)

MODEL = "sl_swin_tiny_patch6_window7_42"
#: a paper-recipe config for the toy runs below (epochs, batch and lr set per test)
PAPER = TrainConfig(epochs=1, batch_size=12, lr=5e-4, seed=0, device="cpu")


def test_original_labels_hand_computed():
    assert original_labels(12, [[3, 5], [9, 9]]).tolist() == [0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0, 0]
    assert original_labels(5, np.empty((0, 2))).tolist() == [0] * 5


def test_pseudo_labels_mark_windows_that_overlap():
    # window [i, i + 2] overlaps [5, 6] for i = 3 .. 6
    assert pseudo_labels(10, 2, [[5, 6]]).tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    # pseudo labels contain the original ones
    o, p = original_labels(50, [[10, 14], [30, 31]]), pseudo_labels(50, 4, [[10, 14], [30, 31]])
    assert np.all(p >= o) and p.sum() == (14 - 6 + 1) + (31 - 26 + 1)


def test_pseudo_window_of_k_frames_ends_one_frame_earlier():
    # k_frames: window [i, i + 1] overlaps [5, 6] for i = 4 .. 6 (k_plus_one: i = 3 .. 6)
    assert pseudo_labels(10, 2, [[5, 6]], "k_frames").tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert make_labels(10, 2, [[5, 6]], "pseudo", "k_frames").tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    assert make_labels(10, 2, [[5, 6]], "pseudo", "k_plus_one").tolist() == [0, 0, 0, 1, 1, 1, 1, 0, 0, 0]
    # original labels have no window
    assert make_labels(10, 2, [[5, 6]], "original", "k_frames").tolist() == [0] * 5 + [1, 1] + [0] * 3


def test_make_labels_rejects_unknown_and_inverted():
    with pytest.raises(ValueError, match="unknown labelling 'soft'"):
        make_labels(10, 2, [[1, 2]], "soft")
    with pytest.raises(ValueError, match="onset > offset"):
        make_labels(10, 2, [[5, 2]])
    with pytest.raises(ValueError, match="TrainConfig.pseudo_window = 'k' is not a valid choice"):
        make_labels(10, 2, [[1, 2]], "pseudo", "k")


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


def test_flip_of_signed_u_mirrors_the_horizontal_flow():
    x = np.zeros((1, 2, 3, 3), np.float32)
    x[0, :, :, 0] = [[0.0, 0.25, 1.0], [0.5, 0.5, 0.5]]   # u, normalised
    x[0, :, :, 1] = [[0.1, 0.2, 0.3], [0.4, 0.5, 0.6]]    # v
    flipped = augment_positives(x, np.random.default_rng(0), blur_ksize=3, signed_u=True)[0]
    # normalised samples: u -> 1 - u (the min-max normalisation of -u), mirrored left-right
    np.testing.assert_allclose(flipped[:, :, 0], [[0.0, 0.75, 1.0], [0.5, 0.5, 0.5]])
    np.testing.assert_allclose(flipped[:, :, 1], [[0.3, 0.2, 0.1], [0.6, 0.5, 0.4]])
    raw = augment_positives(x - 0.5, np.random.default_rng(0), blur_ksize=3, signed_u=True, value_range=(-1, 1))
    np.testing.assert_allclose(raw[0, :, :, 0], [[-0.5, 0.25, 0.5], [0.0, 0.0, 0.0]])   # raw: u -> -u
    plain = augment_positives(x, np.random.default_rng(0), blur_ksize=3, signed_u=False)[0]
    np.testing.assert_allclose(plain[:, :, 0], [[1.0, 0.25, 0.0], [0.5, 0.5, 0.5]])  # abs(u): flip only


def _one_positive(values):
    """One video of 4 samples, sample 1 positive; ``values`` fills sample 1."""
    f = np.zeros((4, 8, 8, 3), np.float32)
    f[:, 0, 0, :] = 1.0                                   # every sample spans [0, 1] per channel
    f[1] = values
    return [f], [np.array([0, 1, 0, 0], np.float32)]


def test_augment_stage_raw_clips_the_noise_of_raw_features_to_minus_one_one():
    # a positive whose raw values all exceed 1 + 5 noise s.d.: noise then clip to [-1, 1] gives a
    # constant 1, which the min-max normalisation maps to 0 ("raw"); after normalisation
    # ("normalised") the noisy copy keeps the sample's structure
    values = 3.0 + np.arange(8 * 8 * 3, dtype=np.float32).reshape(8, 8, 3) / 100
    feats, labels = _one_positive(values)
    cfg = TrainConfig(keep_negatives=1.0, augment_stage="raw")
    x, y, g = training_arrays(feats, labels, cfg, augment=True, signed_u=True, rng=np.random.default_rng(0))
    assert x.shape == (4 + 3, 3, 8, 8) and y.tolist() == [0, 1, 0, 0, 1, 1, 1] and g.tolist() == [0] * 7
    np.testing.assert_array_equal(x[6], 0.0)             # the noisy copy, clipped flat
    for sample in x:                                     # normalised last: every copy spans [0, 1] or is flat
        assert sample.reshape(3, -1).max(1).tolist() in ([1.0] * 3, [0.0] * 3)
    xn, _, _ = training_arrays(feats, labels, TrainConfig(keep_negatives=1.0, augment_stage="normalised"),
                               augment=True, signed_u=True, rng=np.random.default_rng(0))
    assert xn[6].std() > 0.2
    assert xn[5].max() < 1.0                             # blurred after normalisation: below the maximum
    # raw flip of signed u: normalise(-u) = 1 - normalise(u), mirrored
    np.testing.assert_allclose(x[4, 0], 1.0 - x[1, 0][:, ::-1], atol=1e-6)


def test_training_arrays_normalise_augment_and_cap():
    rng = np.random.default_rng(1)
    feats = [rng.normal(size=(40, 42, 42, 3)).astype(np.float32) * 3]
    labels = [pseudo_labels(40, 2, [[10, 12]])]       # i = 8 .. 12: 5 positives, 35 negatives
    cfg = TrainConfig(keep_negatives=0.5)
    x, y, g = training_arrays(feats, labels, cfg, augment=True, signed_u=False, rng=rng, groups=["s7"])
    assert x.shape == (5 + 17 + 15, 3, 42, 42) and y.sum() == 20 and set(g) == {"s7"}
    first = x[0]
    assert np.allclose(first.reshape(3, -1).min(1), 0) and np.allclose(first.reshape(3, -1).max(1), 1)
    capped = TrainConfig(keep_negatives=0.5, max_train_samples=10)
    x2, y2, _ = training_arrays(feats, labels, capped, augment=False, signed_u=False, rng=rng)
    assert len(y2) == 10 and y2.sum() == 5
    with pytest.raises(ValueError, match="2 groups for 1 videos"):
        training_arrays(feats, labels, cfg, augment=False, signed_u=False, rng=rng, groups=["a", "b"])


def test_plan_stages_pooled_and_per_subject():
    groups = np.array(["b", "b", "a", "a", "a"])
    paper = TrainConfig(epochs=3, batch_size=2)
    (pooled,) = plan_stages(paper, 5)
    assert pooled.indices.tolist() == [0, 1, 2, 3, 4] and pooled.steps == 9 and pooled.epochs == 3
    b, a = plan_stages(dataclasses.replace(paper, schedule="per_subject"), 5, groups)
    assert (b.group, b.indices.tolist(), b.steps) == ("b", [0, 1], 3)      # first-appearance order
    assert (a.group, a.indices.tolist(), a.steps) == ("a", [2, 3, 4], 6)
    adamw = TrainConfig(recipe="adamw", steps=7, batch_size=2, schedule="per_subject")
    assert [st.steps for st in plan_stages(adamw, 5, groups)] == [3, 3]
    assert [st.epochs for st in plan_stages(adamw, 5, groups)] == [3, 2]   # 1 and 2 batches per epoch
    with pytest.raises(ValueError, match="schedule = 'per_subject' needs groups"):
        plan_stages(adamw, 5)


def _toy(n=24, seed=0):
    g = np.random.default_rng(seed)
    return g.random((n, 3, 42, 42), dtype=np.float32), (g.random(n) > 0.5).astype(np.float32)


def test_fit_writes_checkpoints_and_refuses_another_run(tmp_path):
    x, y = _toy()
    ckpt = tmp_path / "c.pt"
    model, hist = fit(MODEL, x, y, PAPER, checkpoint=ckpt, progress=False, meta={"k": 6})
    state = load_checkpoint(ckpt)
    assert state["epoch"] == 1 and state["meta"] == {"k": 6} and len(hist.loss) == 1
    assert len(hist.step_loss) == 2 and hist.step_lr == [5e-4, 5e-4]
    with pytest.raises(TrainingError, match="belongs to another run"):
        fit(MODEL, x, y, dataclasses.replace(PAPER, lr=1e-3), checkpoint=ckpt, progress=False)


def test_nan_loss_stops_with_a_clear_error(tmp_path):
    x, y = _toy()
    y[3] = np.nan
    with pytest.raises(TrainingError, match="loss became nan at epoch 1, batch 1; no epoch finished"):
        fit(MODEL, x, y, dataclasses.replace(PAPER, batch_size=24), checkpoint=tmp_path / "c.pt", progress=False)


#: a tiny SL-Swin (same code, fewer and narrower blocks) for the runs that only test the loop
TINY = {"embed_dim": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1)}


def test_adamw_history_holds_step_and_held_out_losses(tmp_path):
    x, y = _toy()
    cfg = TrainConfig(recipe="adamw", steps=6, batch_size=12, warmup_fraction=0.5, val_every=2, device="cpu")
    _, hist = fit(MODEL, x, y, cfg, checkpoint=tmp_path / "c.pt", val=(x[:5], y[:5]), progress=False,
                  model_kwargs=TINY)
    assert len(hist.step_loss) == 6 and len(hist.loss) == 3      # 2 batches per epoch
    assert hist.val_step == [0, 2, 4, 6] and len(hist.val_loss) == 4
    # linear warm-up over 3 steps, then cosine decay to zero
    np.testing.assert_allclose(hist.step_lr[:3], [0.0, cfg.adamw_lr / 3, 2 * cfg.adamw_lr / 3], rtol=1e-6)
    assert hist.step_lr[3] == pytest.approx(cfg.adamw_lr) and hist.step_lr[3] > hist.step_lr[4] > hist.step_lr[5]
    saved = load_checkpoint(tmp_path / "c.pt")
    assert saved["history"]["val_loss"] == hist.val_loss and saved["step"] == 6
    # a finished run keeps the weights only; fitting it again trains nothing and gives the same model
    assert saved["optimizer"] is None and saved["scheduler"] is None
    again, hist2 = fit(MODEL, x, y, cfg, checkpoint=tmp_path / "c.pt", val=(x[:5], y[:5]), progress=False,
                       model_kwargs=TINY)
    assert hist2.step_loss == hist.step_loss and hist2.resumed_from == 3
    for (n, a), (_, b) in zip(again.state_dict().items(), saved["model"].items()):
        torch.testing.assert_close(a, b, msg=n, rtol=0, atol=0)


def test_per_subject_schedule_restarts_the_optimiser_for_each_subject(tmp_path):
    x, y = _toy()
    groups = np.repeat(["s1", "s2"], 12)
    cfg = TrainConfig(recipe="adamw", steps=6, batch_size=12, warmup_fraction=0.5, device="cpu",
                      schedule="per_subject")
    _, hist = fit(MODEL, x, y, cfg, checkpoint=tmp_path / "c.pt", groups=groups, progress=False, model_kwargs=TINY)
    lr = cfg.adamw_lr
    # each subject: 3 steps of one batch, its own warm-up (ramp over 2 steps) then decay
    np.testing.assert_allclose(hist.step_lr, [0.0, lr / 2, lr, 0.0, lr / 2, lr], rtol=1e-6)
    assert len(hist.loss) == 6 and load_checkpoint(tmp_path / "c.pt")["stage"] == 1
    paper = dataclasses.replace(PAPER, epochs=2, schedule="per_subject")
    _, hist = fit(MODEL, x, y, paper, checkpoint=tmp_path / "p.pt", groups=groups, progress=False, model_kwargs=TINY)
    assert len(hist.loss) == 4 and len(hist.step_loss) == 4     # 2 subjects x 2 epochs x 1 batch


@pytest.mark.slow
@pytest.mark.parametrize("cfg", [
    TrainConfig(epochs=4, batch_size=12, lr=5e-4, seed=3, device="cpu"),
    TrainConfig(recipe="adamw", steps=8, batch_size=12, seed=3, device="cpu", schedule="per_subject",
                warmup_fraction=0.25),
], ids=["paper", "adamw_per_subject"])
def test_killed_run_resumes_and_matches_an_uninterrupted_one(tmp_path, cfg):
    # every run in a fresh process of the same environment: this process's kernels may have been chosen
    # under other variables by an earlier test (tests/test_determinism.py unsets the pins on purpose)
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, numpy as np, torch
        torch.set_num_threads(1)
        from slswin_lib.config import TrainConfig
        from slswin_lib.training.trainer import fit
        g = np.random.default_rng(0)
        x, y = g.random((24, 3, 42, 42), dtype=np.float32), (g.random(24) > 0.5).astype(np.float32)
        _, hist = fit("{MODEL}", x, y, TrainConfig(**{dataclasses.asdict(cfg)!r}), checkpoint=sys.argv[1],
                      groups=np.repeat(["a", "b"], 12), progress=False)
        with open(sys.argv[2], "w") as f:
            json.dump({{"step_loss": hist.step_loss, "step_lr": hist.step_lr, "loss": len(hist.loss),
                       "resumed_from": hist.resumed_from}}, f)
    """))
    total_epochs = 4 if cfg.recipe == "paper" else 8          # adamw: 2 subjects x 4 steps of one batch
    ckpt = tmp_path / "killed.pt"
    proc = subprocess.Popen([sys.executable, str(script), str(ckpt), str(tmp_path / "never.json")])
    deadline = time.time() + 240
    while time.time() < deadline and not ckpt.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    epoch_at_kill = load_checkpoint(ckpt)["epoch"]
    assert 1 <= epoch_at_kill < total_epochs, "the run should have been killed mid-way"
    histories = {}
    for name, checkpoint in (("resumed", ckpt), ("whole", tmp_path / "whole.pt")):
        subprocess.run([sys.executable, str(script), str(checkpoint), str(tmp_path / f"{name}.json")], check=True,
                       timeout=240)
        histories[name] = json.loads((tmp_path / f"{name}.json").read_text())
    hist, whole_hist = histories["resumed"], histories["whole"]
    assert hist["resumed_from"] == epoch_at_kill and hist["loss"] == total_epochs
    assert whole_hist["resumed_from"] in (None, 0)
    assert hist["step_loss"] == whole_hist["step_loss"] and hist["step_lr"] == whole_hist["step_lr"]
    resumed, whole = load_checkpoint(ckpt)["model"], load_checkpoint(tmp_path / "whole.pt")["model"]
    assert list(resumed) == list(whole)
    for n in resumed:
        torch.testing.assert_close(resumed[n], whole[n], msg=n, rtol=0, atol=0)


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
    # the cluster outlives the call (its workers keep torch imported for the next run) ...
    from slswin_lib.determinism import kernel_env

    pins = kernel_env(profile.train.cpu_kernels)   # the profile's workers start with its CPU kernels
    cluster = local_cluster(2, pins)
    assert cluster is local_cluster(2, pins) and len(cluster.workers) == 2
    # ... and one that was closed is replaced
    cluster.close()
    replacement = local_cluster(2, pins)
    assert replacement is not cluster and len(replacement.workers) == 2
    replacement.close()
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
    no_pos = [VideoInfo(i.key, i.subject, i.video_code, i.n_frames, ()) for i in infos]
    with pytest.raises(TrainingError, match="fold s0: the training videos hold no mae sample"):
        loso(_toy_set(no_pos, feats), profile, out_dir=tmp_path / "x", workers=1, progress=False)


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


def test_train_config_refuses_bad_recipe_settings():
    with pytest.raises(ValueError, match="TrainConfig.lr_decay = 'step' is not a valid choice"):
        TrainConfig(lr_decay="step")
    with pytest.raises(ValueError, match="TrainConfig.steps = 0 must be >= 1"):
        TrainConfig(steps=0)
    with pytest.raises(ValueError, match=r"TrainConfig.warmup_fraction = 1.0 must lie in \[0, 1\)"):
        TrainConfig(warmup_fraction=1.0)
    assert get_profile("quick").train.recipe == "adamw" and get_profile("paper").train.recipe == "paper"


def test_ablation_loso_applies_the_ablation_budget(tmp_path, monkeypatch):
    from slswin_lib.config import AblationConfig
    from slswin_lib.experiment import ablation_loso, read_folds

    monkeypatch.setenv("SLSWIN_WORK", str(tmp_path))
    infos, feats = _toy_loso()
    profile = get_profile("smoke").replace(train={"steps": 8, "max_train_samples": 64})
    profile = dataclasses.replace(profile, ablation=AblationConfig(folds=1, max_train_samples=20, steps=4, val_every=2))
    scores = ablation_loso(_toy_set(infos, feats), profile, progress=False)
    assert scores.keys == ["s0_0101"]                       # the first held-out subject only
    table, histories = read_folds(scores.source)
    assert table["fold"].tolist() == ["s0"] and table.loc[0, "steps"] == 4 and table.loc[0, "n_train"] == 20
    assert histories["s0"]["val_step"] == [0, 2, 4]        # before training, then every 2 steps
    fold = Path(scores.source) / "fold_s0"                  # scores and record kept, the model not
    assert (fold / "scores.npz").is_file() and (fold / "fold.json").is_file()
    assert not (fold / "checkpoint.pt").exists()
    again = ablation_loso(_toy_set(infos, feats), profile, progress=False)   # reused from its scores
    np.testing.assert_array_equal(again.scores["s0_0101"], scores.scores["s0_0101"])


def test_ablation_budget_values_are_checked():
    from slswin_lib.config import AblationConfig

    with pytest.raises(ValueError, match=r"AblationConfig.val_every = 0 must be >= 1"):
        AblationConfig(val_every=0)


def test_a_run_with_other_runtime_settings_is_found_with_its_t(tmp_path, monkeypatch):
    """find_loso_run compares settings by run_digest: changing only runtime keys finds the same run
    (and so the same deploy t); a result-changing setting does not."""
    from slswin_lib.deploy import deploy_t
    from slswin_lib.experiment import find_loso_run

    monkeypatch.setenv("SLSWIN_WORK", str(tmp_path))
    infos, feats = _toy_loso()
    es = _toy_set(infos, feats)
    p = get_profile("smoke").replace(train={"steps": 2, "max_train_samples": 32, "device": "cpu"})
    loso(es, p, workers=1, progress=False)
    run = find_loso_run(p, es)
    assert run is not None and (run / "scores.npz").exists()
    runtime = p.replace(features={"workers": 2, "flow_batch": 8, "flow_device": "cuda:1", "chunk": 7},
                        train={"fold_workers": 2, "device": "auto", "predict_batch_size": 3})
    assert find_loso_run(runtime, es) == run
    t, source = deploy_t(es, p)
    assert source.startswith("LOSO t") and str(run) in source
    assert deploy_t(es, runtime) == (t, source)
    other = p.replace(features={"abs_uv": not p.features.abs_uv})
    assert find_loso_run(other, es) is None
    assert deploy_t(es, other)[1].startswith("profile smoke (no full LOSO")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device")
def test_a_missing_cuda_device_is_refused_with_what_torch_sees(tmp_path):
    x, y = _toy()
    with pytest.raises(DeviceError, match=r"device 'cuda' was asked for, but torch .* no CUDA|build without CUDA"):
        select_device("cuda")
    with pytest.raises(DeviceError, match="use device 'cpu'"):
        fit(MODEL, x, y, dataclasses.replace(PAPER, device="cuda"), checkpoint=tmp_path / "c.pt", progress=False)
    assert not (tmp_path / "c.pt").exists()
    with pytest.raises(DeviceError, match="'gpu' is not a torch device"):
        select_device("gpu")
    assert select_device("auto") == torch.device("cpu") and select_device("cpu") == torch.device("cpu")


def test_autocast_trains_in_bfloat16_under_the_same_run_identity(tmp_path):
    x, y = _toy()
    cfg = dataclasses.replace(PAPER, epochs=2)
    plain, h_plain = fit(MODEL, x, y, cfg, checkpoint=tmp_path / "f32.pt", progress=False, model_kwargs=TINY)
    amp, h_amp = fit(MODEL, x, y, dataclasses.replace(cfg, autocast=True), checkpoint=tmp_path / "bf16.pt",
                     progress=False, model_kwargs=TINY)
    # the same recipe (runtime-only setting), computed in bfloat16: close to float32, not equal
    assert load_checkpoint(tmp_path / "f32.pt")["fingerprint"] == load_checkpoint(tmp_path / "bf16.pt")["fingerprint"]
    assert len(h_amp.step_loss) == 4 and np.all(np.isfinite(h_amp.step_loss))
    assert h_amp.step_loss != h_plain.step_loss
    np.testing.assert_allclose(h_amp.step_loss, h_plain.step_loss, rtol=0.05)
    assert all(p.dtype == torch.float32 for p in amp.parameters())
    scores = predict(plain, x, batch_size=10)
    bf16 = predict(plain, x, batch_size=10, autocast=True)
    assert bf16.dtype == np.float64 and not np.array_equal(bf16, scores)
    np.testing.assert_allclose(bf16, scores, atol=0.05)
