"""Spotting (paper Section 2.5) on hand-computed cases."""
import numpy as np
import pytest

from slswin_lib.spotting import moilanen_threshold, smooth_scores, spot

BUMP = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0], dtype=float)


def test_smoothing_is_valid_moving_average():
    out = smooth_scores(BUMP, 4)
    assert out.tolist() == [0, 0.25, 0.5, 0.75, 1, 0.75, 0.5, 0.25, 0]


def test_threshold_hand_computed():
    s = smooth_scores(BUMP, 4)
    # mean 4/9, max 1: T = 4/9 + 0.6 * 5/9 = 7/9
    assert moilanen_threshold(s, 0.6) == pytest.approx(7 / 9)
    assert moilanen_threshold(s, 0.0) == pytest.approx(4 / 9)
    assert moilanen_threshold(s, 1.0) == pytest.approx(1.0)


def test_single_bump_gives_interval_around_apex():
    r = spot(BUMP, k=2, t=0.6)
    assert r.peaks.tolist() == [4]
    assert r.apexes.tolist() == [6]
    assert r.intervals.tolist() == [[4, 8]]
    assert r.threshold == pytest.approx(7 / 9)
    assert r.peak_heights.tolist() == [1.0]


def test_peak_distance_keeps_higher_peak():
    s = np.zeros(40)
    s[10], s[13], s[30] = 1.0, 0.9, 0.95
    near = spot(s, k=1, t=0.5, window=1, distance=5)
    assert near.peaks.tolist() == [10, 30]
    far = spot(s, k=1, t=0.5, window=1, distance=2)
    assert far.peaks.tolist() == [10, 13, 30]


def test_default_window_and_distance_are_2k_and_k():
    rng = np.random.default_rng(0)
    s = rng.random(200)
    a = spot(s, k=5, t=0.3)
    b = spot(s, k=5, t=0.3, window=10, distance=5)
    assert len(a.smoothed) == 200 - 10 + 1
    np.testing.assert_array_equal(a.intervals, b.intervals)
    assert np.all(np.diff(a.peaks) >= 5)


def test_constant_scores_have_no_peak():
    r = spot(np.ones(50), k=3)
    assert r.peaks.size == 0 and r.intervals.shape == (0, 2)


def test_trailing_singleton_axis_is_accepted():
    r = spot(BUMP[:, None], k=2)
    assert r.intervals.tolist() == [[4, 8]]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_scores_name_the_video(bad):
    s = BUMP.copy()
    s[3] = bad
    with pytest.raises(ValueError, match=r"non-finite scores in video s15_0101 \(first at index 3\)"):
        spot(s, k=2, video="s15_0101")


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_bad_k(k):
    with pytest.raises(ValueError, match="k must be a positive integer"):
        spot(BUMP, k=k)


def test_too_short_video():
    with pytest.raises(ValueError, match="s1_v has 3 scores, fewer than the smoothing window of 4"):
        spot(np.zeros(3), k=2, video="s1_v")
