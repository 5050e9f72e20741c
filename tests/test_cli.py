"""``python -m slswin_lib spot-eval``: settings from the profile, --t/--mode overrides, refusals; ``--version``."""
import json
from importlib import resources

import pytest

from slswin_lib.cli import build_parser, main
from slswin_lib.scores import released_score_set, spot_score_set

REF = resources.files("slswin_lib") / "reference" / "casme2"
ME_SET = ["--scores", str(REF / "scores_me.npz"), "--videos", str(REF / "videos_me.csv"),
          "--gt", str(REF / "gt_me.csv")]


def _spot_eval(capsys, *args: str) -> dict:
    assert main(["spot-eval", *ME_SET, "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_defaults_come_from_the_profile(capsys):
    # quick (the default profile): t = 0.60 and the authors' matching -> the published ME counts
    out = _spot_eval(capsys)
    assert (out["t"], out["mode"], out["profile"]) == (0.6, "authors", "quick")
    assert (out["TP"], out["FP"], out["FN"]) == (12, 204, 45)
    assert (out["videos"], out["ground_truths"]) == (33, 57)
    out = _spot_eval(capsys, "--profile", "paper")
    assert (out["t"], out["mode"], out["profile"]) == (0.6, "authors", "paper")
    assert (out["TP"], out["FP"], out["FN"]) == (12, 204, 45)


def test_mode_and_t_override_the_profile(capsys):
    out = _spot_eval(capsys, "--mode", "megc")
    assert (out["mode"], out["TP"], out["FP"], out["FN"]) == ("megc", 13, 203, 44)
    out = _spot_eval(capsys, "--profile", "smoke", "--t", "0.7")
    expected = spot_score_set(released_score_set("me"), 0.7, "authors")[0]
    assert (out["t"], out["mode"]) == (0.7, "authors")
    assert (out["TP"], out["FP"], out["FN"]) == (expected.tp, expected.fp, expected.fn)
    assert (out["TP"], out["FP"], out["FN"]) != (12, 204, 45)


def test_t_one_is_accepted(capsys):
    out = _spot_eval(capsys, "--t", "1")
    expected = spot_score_set(released_score_set("me"), 1.0, "authors")[0]
    assert out["t"] == 1.0 and (out["TP"], out["FP"], out["FN"]) == (expected.tp, expected.fp, expected.fn)


@pytest.mark.parametrize("value, shown", [("1.5", "1.5"), ("0", "0.0"), ("-0.3", "-0.3"), ("nan", "nan")])
def test_t_outside_the_interval_is_refused_with_the_reason(capsys, value, shown):
    with pytest.raises(SystemExit) as exc:
        main(["spot-eval", *ME_SET, f"--t={value}"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --t: --t = {shown} is outside (0, 1]: t is the threshold factor in " \
           "T = mean + t (max - mean) of the smoothed scores, so t > 1 spots nothing" in err


def test_t_that_is_not_a_number_is_refused(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["spot-eval", *ME_SET, "--t", "high"])
    assert exc.value.code == 2
    assert "argument --t: --t = 'high' is not a number; the threshold factor t must be in (0, 1]" in \
        capsys.readouterr().err


def test_unknown_profile_and_mode_are_refused(capsys):
    for bad in (["--profile", "fast"], ["--mode", "iou"]):
        with pytest.raises(SystemExit) as exc:
            main(["spot-eval", *ME_SET, *bad])
        assert exc.value.code == 2
        assert f"invalid choice: '{bad[1]}'" in capsys.readouterr().err


def test_help_says_what_t_is_and_where_defaults_come_from():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["spot-eval"]
    text = " ".join(sub.format_help().split())
    assert "--t T threshold factor t in (0, 1]: a peak of the smoothed scores s is spotted when it reaches " \
           "T = mean(s) + t (max(s) - mean(s))" in text
    assert "smoke: t = 0.6, mode authors; quick: t = 0.6, mode authors; paper: t = 0.6, mode authors" in text
    assert "--profile {paper,quick,smoke}" in text


def test_version_is_the_installed_package_version(capsys):
    from importlib.metadata import version

    import slswin_lib

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"slswin {version('slswin')}\n"
    assert slswin_lib.__version__ == version("slswin")
