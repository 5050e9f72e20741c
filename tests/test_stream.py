"""Streamed training samples: equal to the training arrays, through fit and train_fold; bad feature files."""
import dataclasses
import pickle

import numpy as np
import pytest
import torch

from slswin_lib.config import TrainConfig
from slswin_lib.experiment import VideoInfo
from slswin_lib.experiment.folds import VAL_SAMPLES, FoldJob, _validation_draw, train_fold
from slswin_lib.features.preprocess import to_model_input
from slswin_lib.training.samples import training_arrays
from slswin_lib.training.stream import (BLUR, FLIP, NOISE, PLAIN, FeatureFileError, TrainingSamples,
                                        batch_loader, open_features, training_samples)
from slswin_lib.training.trainer import fit, predict

MODEL = "sl_swin_tiny_patch6_window7_42"


def _videos(side=8):
    rng = np.random.default_rng(5)
    feats = [rng.normal(size=(n, side, side, 3)).astype(np.float32) * 2 for n in (30, 25)]
    labels = [(np.arange(30) % 7 < 2).astype(np.float32), (np.arange(25) % 5 == 0).astype(np.float32)]
    return feats, labels


@pytest.mark.parametrize("stage", ["raw", "normalised"])
@pytest.mark.parametrize("cap", [None, 20])
@pytest.mark.parametrize("signed_u", [True, False])
def test_streamed_batches_equal_the_training_arrays(stage, cap, signed_u):
    feats, labels = _videos()
    cfg = TrainConfig(augment_stage=stage, max_train_samples=cap)
    rng_a, rng_s = np.random.default_rng(0), np.random.default_rng(0)
    x, y, g = training_arrays(feats, labels, cfg, augment=True, signed_u=signed_u, rng=rng_a, groups=["a", "b"])
    s = training_samples(feats, labels, cfg, augment=True, signed_u=signed_u, rng=rng_s, groups=["a", "b"])
    assert s.shape == x.shape and s.nbytes == x.nbytes
    np.testing.assert_array_equal(s.batch(np.arange(len(s))), x)
    np.testing.assert_array_equal(s.y, y)
    np.testing.assert_array_equal(s.groups, g)
    order = np.random.default_rng(1).permutation(len(s))[:11]          # any batch, any order
    np.testing.assert_array_equal(s.batch(order), x[order])
    assert rng_a.integers(2 ** 62) == rng_s.integers(2 ** 62)           # the generator ends where it did


def test_streamed_sampling_semantics_hand_counted():
    # video 0: 30 samples, 10 positives (i % 7 < 2) -> all 10 and int(20 * 0.5) = 10 negatives;
    # video 1: 25 samples, 5 positives -> 5 and 10 negatives; 15 positives get 3 copies each
    feats, labels = _videos()
    s = training_samples(feats, labels, TrainConfig(), augment=True, signed_u=False, rng=np.random.default_rng(0))
    assert len(s) == 20 + 15 + 45 and s.y.sum() == 15 + 45
    assert np.bincount(s.kind).tolist() == [35, 15, 15, 15]
    plain = s.kind == PLAIN
    for kind in (FLIP, BLUR, NOISE):                                    # copies of the positives, in order
        np.testing.assert_array_equal(s.frame[s.kind == kind], s.frame[plain][s.y[plain] > 0])
        np.testing.assert_array_equal(s.video[s.kind == kind], s.video[plain][s.y[plain] > 0])
    assert (s.noise[s.kind == NOISE] == np.arange(15)).all() and (s.noise[s.kind != NOISE] == -1).all()
    plain_only = training_samples(feats, labels, TrainConfig(max_train_samples=12), augment=False, signed_u=False,
                                  rng=np.random.default_rng(0))
    assert len(plain_only) == 12 and plain_only.y.sum() == 6 and (plain_only.kind == PLAIN).all()


def test_batch_loader_with_workers_gives_the_same_batches():
    feats, labels = _videos()
    s = training_samples(feats, labels, TrainConfig(), augment=True, signed_u=True, rng=np.random.default_rng(0))
    batches = [np.arange(0, 7), np.arange(70, 80), np.array([3, 60, 1])]
    direct = list(batch_loader(s, batches))
    loaded = list(batch_loader(s, batches, workers=2))
    for (xa, ya), (xb, yb), idx in zip(direct, loaded, batches):
        torch.testing.assert_close(xa, xb, rtol=0, atol=0)
        torch.testing.assert_close(ya, yb, rtol=0, atol=0)
        assert xa.shape == (len(idx), 3, 8, 8) and ya.shape == (len(idx), 1)


def test_fit_with_loader_workers_equals_fit_without(tmp_path, one_torch_thread):
    """The loader draws its workers' seeds from a generator of its own, so the run's drop-path draws
    (torch's global generator) and with them the weights are those of a run without workers (a loader
    seeded from the global generator gave other weights)."""
    feats, labels = _videos(side=42)
    cfg = TrainConfig(epochs=2, batch_size=12, seed=0, device="cpu", max_train_samples=24, loader_workers=0)
    runs = []
    for workers in (0, 2):
        s = training_samples(feats, labels, cfg, augment=True, signed_u=False, rng=np.random.default_rng(0))
        runs.append(fit(MODEL, s, s.y, dataclasses.replace(cfg, loader_workers=workers),
                        checkpoint=tmp_path / f"w{workers}.pt", progress=False))
    (plain, h_plain), (loaded, h_loaded) = runs
    assert len(h_plain.step_loss) == 2 * 5 and h_loaded.step_loss == h_plain.step_loss
    for (n, a), (_, b) in zip(plain.state_dict().items(), loaded.state_dict().items()):
        torch.testing.assert_close(a, b, msg=n, rtol=0, atol=0)


def test_batch_loader_takes_batches_from_a_generator():
    """fit hands the loader one generator of a whole run's batches (drawn as the loader goes)."""
    feats, labels = _videos()
    s = training_samples(feats, labels, TrainConfig(), augment=False, signed_u=False, rng=np.random.default_rng(0))
    for workers in (0, 1):
        got = list(batch_loader(s, (np.arange(b, b + 4) for b in range(3)), workers=workers))
        assert [tuple(x.shape) for x, _ in got] == [(4, 3, 8, 8)] * 3
        for b, (x, y) in enumerate(got):
            torch.testing.assert_close(x, torch.from_numpy(s.batch(np.arange(b, b + 4))), rtol=0, atol=0)
            torch.testing.assert_close(y.view(-1), torch.from_numpy(s.y[b:b + 4]), rtol=0, atol=0)


def test_pickled_samples_reopen_their_files_instead_of_copying_them(tmp_path):
    feats, labels = _videos(side=42)
    files = []
    for i, f in enumerate(feats):
        files.append(tmp_path / f"v{i}.npy")
        np.save(files[-1], f)
    s = training_samples(files, labels, TrainConfig(), augment=True, signed_u=False, rng=np.random.default_rng(0))
    blob = pickle.dumps(s)
    assert len(blob) < sum(f.nbytes for f in feats) / 10                # indices and states, not the samples
    again = pickle.loads(blob)
    assert all(isinstance(f, np.memmap) for f in again.features)
    np.testing.assert_array_equal(again.batch(np.arange(len(s))), s.batch(np.arange(len(s))))


def test_fit_on_streamed_samples_equals_fit_on_arrays(tmp_path):
    feats, labels = _videos(side=42)
    cfg = TrainConfig(epochs=2, batch_size=12, seed=0, device="cpu", max_train_samples=24)
    x, y, _ = training_arrays(feats, labels, cfg, augment=True, signed_u=False, rng=np.random.default_rng(0))
    s = training_samples(feats, labels, cfg, augment=True, signed_u=False, rng=np.random.default_rng(0))
    _, h_arrays = fit(MODEL, x, y, cfg, checkpoint=tmp_path / "a.pt", progress=False)
    _, h_stream = fit(MODEL, s, s.y, cfg, checkpoint=tmp_path / "s.pt", progress=False)
    assert len(s) == 24 + 3 * 12 and len(h_stream.step_loss) == 2 * 5   # capped to 12 + 12, then 36 copies
    assert h_stream.step_loss == h_arrays.step_loss


def test_validation_draw_reads_only_the_drawn_samples():
    rng = np.random.default_rng(2)
    feats = [rng.normal(size=(n, 8, 8, 3)).astype(np.float32) for n in (150, 90)]
    y = np.zeros(240)
    y[[5, 6, 7, 200, 201]] = 1
    x, yv = _validation_draw(feats, y, seed=0)
    assert len(yv) == VAL_SAMPLES and yv.sum() == 3                     # round(128 * 5 / 240) = 3 positives
    # the same draw as from the whole held-out input
    whole = to_model_input(np.concatenate(feats))
    draw = np.random.default_rng(0)
    pos, neg = np.flatnonzero(y > 0), np.flatnonzero(y <= 0)
    idx = np.sort(np.concatenate([draw.choice(pos, 3, replace=False), draw.choice(neg, 125, replace=False)]))
    np.testing.assert_array_equal(x, whole[idx])
    np.testing.assert_array_equal(yv, y[idx])


def test_predict_in_batches_from_features_equals_predict_on_model_input():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1))
    feats = np.random.default_rng(3).normal(size=(23, 8, 8, 3)).astype(np.float32)
    expected = predict(model, to_model_input(feats), batch_size=5)
    np.testing.assert_array_equal(predict(model, feats, batch_size=5, transform=to_model_input), expected)


def _fold(tmp_path, files, k=3, n_frames=40):
    infos = tuple(VideoInfo(f"s{i}_0101", f"s{i}", "0101", n_frames, ((10, 14),)) for i in range(len(files)))
    return FoldJob(fold_dir=str(tmp_path / "fold"), name="s0", train=infos[1:], test=infos[:1],
                   inputs={i.key: str(f) for i, f in zip(infos, files)}, k=k, expression="mae",
                   train_cfg=TrainConfig(epochs=1, batch_size=8, max_train_samples=16, device="cpu"),
                   model_name=MODEL)


def _write(path, array):
    np.save(path, array)
    return path


@pytest.mark.parametrize("bad, message", [
    (lambda p: _write(p, np.zeros((37, 42, 42, 2), np.float32)), r"shape \(37, 42, 42, 2\), expected \(n, S, S, 3\)"),
    (lambda p: _write(p, np.zeros((37, 42, 42, 3), np.float64)), "dtype float64, expected float32"),
    (lambda p: _write(p, np.zeros((30, 42, 42, 3), np.float32)), r"30 feature samples, expected 37 \(n_frames - k\)"),
])
def test_a_bad_feature_file_is_named_and_the_fold_writes_nothing(tmp_path, bad, message):
    good = [_write(tmp_path / f"v{i}.npy", np.zeros((37, 42, 42, 3), np.float32)) for i in range(2)]
    for files in ([bad(tmp_path / "bad.npy"), *good], [*good, bad(tmp_path / "bad.npy")]):  # held out, trained
        with pytest.raises(FeatureFileError, match=f"bad.npy: .*{message}"):
            train_fold(_fold(tmp_path, files), progress=False)
        assert not (tmp_path / "fold").exists() or not any((tmp_path / "fold").iterdir())


def test_a_truncated_feature_file_is_named(tmp_path):
    path = _write(tmp_path / "cut.npy", np.zeros((37, 42, 42, 3), np.float32))
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size - 1000)
    with pytest.raises(FeatureFileError, match=r"cut.npy: cannot memory-map .*truncated.*delete it"):
        open_features(path, 37)
    good = [_write(tmp_path / f"v{i}.npy", np.zeros((37, 42, 42, 3), np.float32)) for i in range(2)]
    with pytest.raises(FeatureFileError, match="cut.npy"):
        train_fold(_fold(tmp_path, [*good, path]), progress=False)
    assert not (tmp_path / "fold" / "scores.npz").exists()


def test_a_sample_index_out_of_range_names_the_file():
    feats = [np.zeros((5, 8, 8, 3), np.float32)]
    one = np.ones(1)
    with pytest.raises(IndexError, match="v0.npy: sample row 5 outside its 5 feature samples"):
        TrainingSamples(feats, np.zeros(1), np.array([5]), np.zeros(1), -one, [], one, one, names=["v0.npy"])
    s = TrainingSamples(feats, np.zeros(1), np.array([4]), np.zeros(1), -one, [], one, one, names=["v0.npy"])
    with pytest.raises(IndexError, match="sample index 1 out of range for 1 training samples"):
        s.batch(np.array([1]))
