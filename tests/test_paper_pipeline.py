"""The paper profile end to end at a tiny size: every stage of the recipe behind the published numbers.

Only the profile's sizes are shrunk (three subjects of one 5 s video, at 192 px, one epoch a subject);
everything else is the paper profile's: MediaPipe tracking, OpenCV's TV-L1 with its defaults, the authors'
feature processing, per-subject SGD at lr 5e-4 and batch 48 on streamed, augmented samples, the LOSO
protocol writing a score set, spotting at t = 0.60 with the authors' matching, evaluation.

One expression type, ME: its training set has every stage MaE's has plus the augmentation (MaE differs
only in k). OpenCV's TV-L1 is most of the cost (about 4 pairs/s a core; 435 pairs here).
"""
import json

import numpy as np
import pytest
import torch

from slswin_lib.config import PAPER_T, get_profile
from slswin_lib.experiment import expression_set, loso, open_dataset, read_fold_record
from slswin_lib.scores import load_score_set, spot_score_set

#: the paper profile's sizes shrunk: 3 subjects of one 5 s video (the shortest that holds an ME and a MaE
#: each at the default seed, slswin_lib.data.synthetic.count_events), 192 px frames, 1 epoch a subject
TINY = {"data": {"n_subjects": 3, "videos_per_subject": 1, "seconds_per_video": 5.0, "frame_size": 192},
        "train": {"epochs": 1}}
EXPRESSION = "me"


@pytest.fixture(scope="module")
def paper_run(tmp_path_factory):
    """The tiny paper run, once for the module (one torch thread, as the other training tests):
    ``(profile, expression set, score set, run folder)``."""
    work = tmp_path_factory.mktemp("paper")
    mp = pytest.MonkeyPatch()
    mp.setenv("SLSWIN_WORK", str(work))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        p = get_profile("paper").replace(**TINY)
        es = expression_set(open_dataset(p), EXPRESSION, p, progress=False)
        scores = loso(es, p, out_dir=work / "loso", progress=False)
        yield p, es, scores, work / "loso"
    finally:
        torch.set_num_threads(threads)
        mp.undo()


def test_the_paper_profile_is_the_paper_recipe_at_a_tiny_size():
    p, paper = get_profile("paper").replace(**TINY), get_profile("paper")
    assert p.features == paper.features and p.features.flow == "tvl1" and p.features.flow_params == ()
    assert p.train.schedule == "per_subject" and p.train.recipe == "paper" and p.train.batch_size == 48
    assert p.train.lr == 5e-4 and p.train.momentum == 0.0 and p.spot.t == PAPER_T and p.spot.mode == "authors"
    assert p.model == paper.model and p.spot == paper.spot
    assert p.replace(data=vars(paper.data), train={"epochs": paper.train.epochs}) == paper   # only sizes differ


@pytest.mark.slow
def test_features_training_prediction_spotting_and_evaluation_write_their_files(paper_run):
    p, es, scores, run = paper_run
    assert es.input_size == 2 * p.features.roi_size == 42 and len(es.subjects) == 3
    # the score set on disk: one score per frame pair of every video, the type's ground truth
    assert sorted(f.name for f in run.iterdir() if f.is_file()) == ["gt.csv", "manifest.json", "scores.npz",
                                                                     "videos.csv"]
    again = load_score_set(run / "scores.npz", run / "videos.csv", run / "gt.csv")
    for info in es.infos:
        s = again.scores[info.key]
        assert s.shape == (info.n_frames - es.k,) and np.all(np.isfinite(s))
        np.testing.assert_array_equal(s, scores.scores[info.key])
    assert len(again.gt) == sum(len(i.intervals) for i in es.infos) >= 3
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["protocol"] == "MEGC 2021 LOSO" and manifest["k"] == es.k and len(manifest["folds"]) == 3
    assert manifest["profile"]["train"]["schedule"] == "per_subject"
    assert manifest["profile"]["features"]["flow"] == "tvl1"
    # per-subject SGD: each fold one epoch on each of its two training subjects, at the constant lr, on
    # each kept positive and its three augmented copies (flip, blur, noise)
    for subject in es.subjects:
        record = read_fold_record(run / f"fold_{subject}")
        history = record["history"]
        assert len(history["loss"]) == 2 and np.all(np.isfinite(history["step_loss"]))
        assert set(history["step_lr"]) == {5e-4} and record["steps"] == len(history["step_lr"]) >= 2
        assert record["n_train_positive"] > 0 and record["n_train_positive"] % 4 == 0
        assert record["n_test"] == sum(i.n_frames - es.k for i in es.infos if i.subject == subject)
    # spotting at t = 0.60 and evaluation: every ground-truth interval found or missed, once
    counts, per_video, results = spot_score_set(again, p.spot.t, p.spot.mode)
    assert counts.tp + counts.fn == len(again.gt) and len(per_video) == len(es.infos) == len(results)
    assert per_video[["TP", "FP", "FN"]].sum().tolist() == [counts.tp, counts.fp, counts.fn]
