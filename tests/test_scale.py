"""Running at the real sets' size: their sizes, the disk-space check, memory-limited fold workers."""
import importlib.util
import shutil
import sys
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from slswin_lib.config import FOLD_BASE_BYTES, FOLD_BYTES_PER_SAMPLE, TrainConfig, get_profile
from slswin_lib.experiment import VideoInfo
from slswin_lib.experiment.folds import FoldJob, fold_memory_bytes, memory_limited_workers
from slswin_lib.features.extract import ArrayVideo, cache_bytes_needed, extract_features, feature_bytes_per_pair
from slswin_lib.io import InsufficientSpaceError, check_free_space

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_scale.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module               # its dataclass looks its module up
    spec.loader.exec_module(module)
    yield module
    del sys.modules["bench_scale"]


def test_the_real_sets_sizes(bench):
    # the (and the reference README's) counts: videos, frames, k, ground-truth intervals
    for name, expression, videos, frames, k, n_gt in [("samm_lv", "me", 79, 313_605, 37, 159),
                                                       ("samm_lv", "mae", 130, 460_281, 169, 331),
                                                       ("casme2", "me", 33, 80_661, 6, 57),
                                                       ("casme2", "mae", 88, 233_583, 18, 298)]:
        s = bench.set_size(name, expression)
        assert (len(s.videos), int(s.videos["n_frames"].sum()), s.k) == (videos, frames, k)
        assert sum(len(g) for g in s.gt.values()) == n_gt
    megc = bench.set_size("megc2022", "mae")
    assert len(megc.videos) == 10 and megc.videos["k"].tolist() == [18] * 5 + [169] * 5
    # pairs: sum of n_frames - k over both types
    assert bench.units("samm_lv", TrainConfig())["pairs"] == (313_605 - 79 * 37) + (460_281 - 130 * 169)


def test_kept_samples_per_video_hand_counted(bench):
    s = bench.SetSize("toy", "me", 2, bench.pd.DataFrame({"key": ["a_1"], "subject": ["a"], "n_frames": [22],
                                                          "k": [2]}), {"a_1": np.array([[10, 12]])})
    # 20 samples; pseudo labels k_plus_one: i = 8 .. 12 positive (5), 15 negatives -> 5 + 7, + 3 x 5 copies
    assert bench.kept_per_video(s, TrainConfig()).tolist() == [5 + 7 + 15]
    assert bench.kept_per_video(s, TrainConfig(augment=False)).tolist() == [12]


def test_feature_cache_bytes_per_pair_and_needed():
    cfg = get_profile("paper").features
    assert feature_bytes_per_pair(cfg) == 42 * 42 * 3 * 4
    video = ArrayVideo("v", [np.zeros((8, 8, 3), np.uint8)] * 10)
    assert cache_bytes_needed([video], 2, cfg) == 8 * 21_168 + 10 * (128 ** 2 + 2 * (68 * 8 + 25))


Usage = namedtuple("Usage", "total used free")


def test_free_space_check_names_the_bytes_and_the_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10_000, 9_000, 1_000))
    assert check_free_space(tmp_path / "new" / "sub", 1_000) == 1_000
    with pytest.raises(InsufficientSpaceError, match=rf"the cache needs .* \(1001 bytes\) in {tmp_path}/new, but only "
                                                     r".* \(1000 bytes\) are free"):
        check_free_space(tmp_path / "new", 1_001, what="the cache")


def test_feature_extraction_refuses_to_start_without_the_disk_space(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(10_000, 9_000, 1_000))
    video = ArrayVideo("v", [np.zeros((8, 8, 3), np.uint8)] * 10)
    with pytest.raises(InsufficientSpaceError, match=r"the features of 1 video\(s\) at k = 2 needs"):
        extract_features([video], 2, get_profile("paper").features, cache_root=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.np*"))                          # nothing written


def _job(n_frames, expression="mae", k=10, videos=3):
    infos = tuple(VideoInfo(f"s{i}_1", f"s{i}", "1", n_frames, ()) for i in range(videos))
    return FoldJob("fold", "s0", infos[1:], infos[:1], {}, k, expression, TrainConfig(), "m")


def test_fold_workers_are_limited_by_memory():
    job = _job(1010)                                                  # 2 training videos x 1000 samples
    assert fold_memory_bytes(job) == FOLD_BASE_BYTES + FOLD_BYTES_PER_SAMPLE * 2000
    assert fold_memory_bytes(_job(1010, "me")) == FOLD_BASE_BYTES + FOLD_BYTES_PER_SAMPLE * 8000
    need = fold_memory_bytes(job)
    assert memory_limited_workers([job], 4, available=4 * need) == 4
    with pytest.warns(UserWarning, match="4 fold workers asked for.*running 2 at once"):
        assert memory_limited_workers([job, _job(110)], 4, available=3 * need - 1) == 2
    with pytest.warns(UserWarning):
        assert memory_limited_workers([job], 2, available=need // 2) == 1   # always at least one
    assert memory_limited_workers([job], 1, available=0) == 1
