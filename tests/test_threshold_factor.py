"""The threshold factor t is refused outside (0, 1] with the reason, in every library entry point."""
import numpy as np
import pytest

from slswin_lib.config import SpotConfig, check_threshold_factor, get_profile
from slswin_lib.scores import released_score_set, select_t_loso, spot_score_set, t_sweep
from slswin_lib.spotting import smooth_scores, spot, spot_smoothed

BUMP = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0], dtype=float)
OUTSIDE = [1.5, 1.0001, 0.0, -0.2, float("nan"), float("inf")]
REASON = r"is outside \(0, 1\]: t is the threshold factor in T = mean \+ t \(max - mean\)"


@pytest.fixture(scope="module")
def released_me():
    return released_score_set("me")


@pytest.mark.parametrize("t", OUTSIDE)
def test_check_refuses_with_the_setting_name_and_reason(t):
    with pytest.raises(ValueError, match=r"^SpotConfig\.t = .* " + REASON):
        check_threshold_factor("SpotConfig.t", t)


@pytest.mark.parametrize("t", [1e-6, 0.6, 1.0, 1])
def test_check_accepts_the_interval_and_returns_a_float(t):
    value = check_threshold_factor("t", t)
    assert value == float(t) and isinstance(value, float)


@pytest.mark.parametrize("t", [None, "high", [0.6]])
def test_check_refuses_non_numbers(t):
    with pytest.raises(ValueError, match=r"t = .* is not a number; the threshold factor t must be in \(0, 1\]"):
        check_threshold_factor("t", t)


@pytest.mark.parametrize("t", OUTSIDE)
def test_spot_config_refuses_t(t):
    with pytest.raises(ValueError, match=r"SpotConfig\.t = .* " + REASON):
        SpotConfig(t=t)


def test_spot_config_refuses_a_grid_value_naming_its_index():
    with pytest.raises(ValueError, match=r"SpotConfig\.t_grid\[2\] = 1\.2 " + REASON):
        SpotConfig(t_grid=(0.4, 0.6, 1.2))
    with pytest.raises(ValueError, match=r"SpotConfig\.t_grid\[0\] = 0\.0 "):
        SpotConfig(t_grid=(0.0, 0.5))
    with pytest.raises(ValueError, match=r"SpotConfig\.t_grid is empty"):
        SpotConfig(t_grid=())


def test_profiles_defaults_are_valid_and_notebook_overrides_are_checked():
    # the notebooks' parameters reach the library through Profile.replace(spot={"t": ...})
    for name in ("smoke", "quick", "paper"):
        spot_cfg = get_profile(name).spot
        assert spot_cfg.t == 0.60 and spot_cfg.mode == "authors"
        assert len(spot_cfg.t_grid) == 99 and spot_cfg.t_grid[0] == 0.01 and spot_cfg.t_grid[-1] == 0.99
    assert get_profile("quick").replace(spot={"t": 1.0}).spot.t == 1.0
    with pytest.raises(ValueError, match=r"SpotConfig\.t = 1\.5 " + REASON):
        get_profile("quick").replace(spot={"t": 1.5})


@pytest.mark.parametrize("t", OUTSIDE)
def test_spot_and_spot_smoothed_refuse_t(t):
    with pytest.raises(ValueError, match=r"^t = .* " + REASON):
        spot(BUMP, k=2, t=t)
    with pytest.raises(ValueError, match=r"^t = .* " + REASON):
        spot_smoothed(smooth_scores(BUMP, 4), 2, t)


def test_t_refused_before_the_scores_are_looked_at():
    # a bad t is named even when the scores are also unusable (too short to smooth)
    with pytest.raises(ValueError, match=r"^t = 1\.5 "):
        spot(np.zeros(3), k=2, t=1.5)


def test_t_one_keeps_only_the_highest_peak():
    # smoothed BUMP (window 4) = [0, .25, .5, .75, 1, .75, .5, .25, 0]: T = max = 1, one peak at 4
    r = spot(BUMP, k=2, t=1.0)
    assert r.threshold == 1.0
    assert r.peaks.tolist() == [4] and r.intervals.tolist() == [[4, 8]]


def test_score_set_entry_points_refuse_t(released_me):
    with pytest.raises(ValueError, match=r"^t = 1\.5 " + REASON):
        spot_score_set(released_me, 1.5, "authors")
    with pytest.raises(ValueError, match=r"^grid\[1\] = 1\.5 " + REASON):
        t_sweep(released_me, [0.5, 1.5], "authors")
    with pytest.raises(ValueError, match=r"^grid\[0\] = 0\.0 " + REASON):
        select_t_loso({"me": released_me}, [0.0, 0.6], "authors")
    with pytest.raises(ValueError, match=r"the t grid is empty"):
        t_sweep(released_me, [], "authors")


def test_score_set_accepts_t_one(released_me):
    counts, _, results = spot_score_set(released_me, 1.0, "authors")
    sweep = t_sweep(released_me, [1.0], "authors")
    assert sweep[["TP", "FP", "FN"]].iloc[0].tolist() == [counts.tp, counts.fp, counts.fn]
    # only the maximum of each smoothed curve reaches T = max: at most one interval per video
    assert max(len(r.intervals) for r in results.values()) == 1
