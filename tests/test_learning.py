"""The training path learns: held-out ROC-AUC of a short practical-recipe run on a fixed toy set.

The toy set mimics the spotting task: a video's sample ``i`` carries a flow blob in the lower
left of its mosaic when its pseudo-label window overlaps an expression, and an equally strong
blob in the upper right otherwise, so only a model that learnt where the expression's motion
lies ranks the held-out samples. The same run with the labels permuted against the features, or
shifted by k samples (the off-by-k of a wrong sample/label alignment), must fall below the
bound; a broken path (labels, arrays, loss, optimiser, prediction) fails the test.

A narrow SL-Swin (same code, fewer and narrower blocks) keeps the three runs within seconds.
"""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from slswin_lib.config import TrainConfig
from slswin_lib.training.labels import make_labels
from slswin_lib.features.preprocess import to_model_input
from slswin_lib.training.samples import training_arrays
from slswin_lib.training.trainer import fit, predict

MODEL = "sl_swin_tiny_patch6_window7_42"
NARROW = {"embed_dim": 12, "depths": (1, 1, 1, 1), "num_heads": (1, 1, 1, 1), "drop_path_rate": 0.0}
K = 6
N_SAMPLES = 200
#: one-frame expressions every 25 frames: positives i in [onset - K, onset], 7 of every 25 samples
ONSETS = tuple(range(12, N_SAMPLES, 25))
CFG = TrainConfig(recipe="adamw", steps=200, batch_size=16, adamw_lr=2e-3, keep_negatives=1.0, augment=False,
                  device="cpu", seed=0)
#: a run that learnt the task ranks the held-out samples far above chance
AUC_BOUND = 0.8


def _video(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N_SAMPLES, 42, 42, 3)`` raw features and their pseudo labels."""
    rng = np.random.default_rng(seed)
    labels = make_labels(N_SAMPLES, K, [(o, o) for o in ONSETS])
    feats = rng.normal(0.0, 0.3, size=(N_SAMPLES, 42, 42, 3)).astype(np.float32)
    for i, positive in enumerate(labels):
        r, c = (rng.integers(24, 32), rng.integers(2, 10)) if positive else (rng.integers(2, 10), rng.integers(24, 32))
        feats[i, r:r + 8, c:c + 8, :2] += 1.5
    return feats, labels


def _held_out_auc(corrupt) -> float:
    """Train on two videos (labels passed through ``corrupt``), return the third's ROC-AUC."""
    videos = [_video(s) for s in range(3)]
    train_labels = [corrupt(lab) for _, lab in videos[:2]]
    x, y, _ = training_arrays([f for f, _ in videos[:2]], train_labels, CFG, augment=False, signed_u=True,
                              rng=np.random.default_rng(0))
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        model, hist = fit(MODEL, x, y, CFG, checkpoint=Path(tmp) / "c.pt", progress=False, model_kwargs=NARROW)
    assert len(hist.step_loss) == CFG.steps
    feats, labels = videos[2]
    return roc_auc_score(labels, predict(model, to_model_input(feats)))


def test_practical_recipe_learns_the_toy_task(one_torch_thread):
    assert _held_out_auc(lambda lab: lab) > AUC_BOUND


@pytest.mark.parametrize("corrupt", [
    lambda lab: np.random.default_rng(1).permutation(lab),
    lambda lab: np.roll(lab, K),
], ids=["permuted", "shifted_by_k"])
def test_corrupted_labels_fall_below_the_bound(corrupt, one_torch_thread):
    assert _held_out_auc(corrupt) < AUC_BOUND
