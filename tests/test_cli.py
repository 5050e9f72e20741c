"""``python -m slswin_lib spot-eval``: settings from the profile, --t/--mode overrides, both types in one call,
spotted intervals, refusals; ``--version``."""
import json
from importlib import resources

import numpy as np
import pandas as pd
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


PEERS = resources.files("slswin_lib") / "reference" / "peers"
HE_EXAMPLE = ["--intervals", str(PEERS / "he2024" / "spotted_casme2.csv"), "--gt", str(PEERS / "casme2_gt_357.csv"),
              "--videos", str(PEERS / "he2024" / "videos_casme2.csv"), "--type-by-length", "15"]
BOTH_TYPES = ["--scores", str(REF / "scores_{type}.npz"), "--videos", str(REF / "videos_{type}.csv"),
              "--gt", str(REF / "gt_{type}.csv")]


def _rows(capsys, *args: str) -> dict:
    assert main(["spot-eval", "--json", *args]) == 0
    out = json.loads(capsys.readouterr().out)
    return out, {(r["mode"], r["type"]): r for r in out["rows"]}


def test_both_types_and_overall_in_one_call(capsys):
    # '{type}' in the paths: the released ME and MaE sets, and their overall, at the profile's t = 0.60
    out, rows = _rows(capsys, *BOTH_TYPES)
    assert [(r["TP"], r["FP"], r["FN"]) for r in out["rows"]] == [(12, 204, 45), (70, 258, 228), (82, 462, 273)]
    assert [r["type"] for r in out["rows"]] == ["me", "mae", "overall"]
    assert (out["videos"], out["ground_truths"], out["t"]) == (94, 355, 0.6)
    overall = rows[("authors", "overall")]
    assert round(overall["F1"], 4) == 0.1824 and overall["F1 low"] < overall["F1"] < overall["F1 high"]
    main(["spot-eval", *BOTH_TYPES])
    text = capsys.readouterr().out
    assert "ME " in text and "MaE " in text and "overall" in text and "F1 low" in text


def test_spotted_intervals_under_every_rule(capsys, tmp_path):
    from slswin_lib.intervals import evaluate_intervals, read_intervals, read_videos

    out, rows = _rows(capsys, *HE_EXAMPLE, "--mode", "all", "--per-video", str(tmp_path / "v.csv"))
    assert (out["spotted"], out["ground_truths"], out["videos"], out["duplicates"]) == (680, 357, 97, 0)
    assert len(rows) == 5 * 3 and out["type_by_length"] == 15
    pred = read_intervals(PEERS / "he2024" / "spotted_casme2.csv", max_me_length=15)
    gt = read_intervals(PEERS / "casme2_gt_357.csv", ground_truth=True)
    table, _ = evaluate_intervals(pred, gt, videos=read_videos(PEERS / "he2024" / "videos_casme2.csv"),
                                  modes=["megc", "strs"])
    for key in (("megc", "me"), ("megc", "overall"), ("strs", "mae")):
        assert [rows[key][c] for c in ("TP", "FP", "FN", "F1", "F1 low")] == \
            pytest.approx(table.loc[key, ["TP", "FP", "FN", "F1", "F1 low"]].tolist())
    assert (rows[("megc", "overall")]["TP"], rows[("megc", "overall")]["FN"]) == (177, 180)
    per_video = pd.read_csv(tmp_path / "v.csv")
    assert set(per_video["mode"]) == {"authors", "megc", "megc2020", "overlap", "strs"}
    # one mode, one csv in the MEGC submission format (vid, pred_onset, pred_offset, type)
    sub = pd.read_csv(PEERS / "he2024" / "spotted_casme2.csv").rename(
        columns={"video": "vid", "onset": "pred_onset", "offset": "pred_offset"})
    sub["type"] = np.where(sub["pred_offset"] - sub["pred_onset"] <= 15, "me", "mae")
    sub.to_csv(tmp_path / "cas_pred.csv", index=False)
    args = [a if a != HE_EXAMPLE[1] else str(tmp_path / "cas_pred.csv") for a in HE_EXAMPLE[:-2]]
    out, rows = _rows(capsys, *args, "--mode", "megc")
    assert (rows[("megc", "overall")]["TP"], rows[("megc", "overall")]["FN"]) == (177, 180)


@pytest.mark.parametrize("text, extra, message", [
    ("video,onset,offset,type\n15_0101disgustingteeth,1,9,me\nnot_a_video,1,9,me\n", [],
     "p.csv: row 2: video 'not_a_video' has no ground truth and is not among the videos without intervals"),
    ("video,onset,offset\n15_0101disgustingteeth,1,9\n", [], r"lacks column\(s\) \['type'\]"),
    ("video,onset,offset,type\n15_0101disgustingteeth,9,1,me\n", [], "row 1 .*onset 9 > offset 1; swap them"),
    ("video,onset,offset,type\n15_0101disgustingteeth,1,9,me\n", ["--t", "0.5"], "--t is the threshold factor"),
    ("video,onset,offset,type\n15_0101disgustingteeth,1,9,me\n15_0101disgustingteeth,1,9,me\n", [],
     r"1 duplicate row\(s\) .*--duplicates keep"),
])
def test_bad_interval_files_exit_2_with_the_reason(capsys, tmp_path, text, extra, message):
    import re

    path = tmp_path / "p.csv"
    path.write_text(text)
    assert main(["spot-eval", "--intervals", str(path), "--gt", str(PEERS / "casme2_gt_357.csv"), *extra]) == 2
    assert re.search(message, capsys.readouterr().err)


def test_score_set_options_are_refused_where_they_do_not_apply(capsys):
    assert main(["spot-eval", "--scores", str(REF / "scores_me.npz"), "--gt", str(REF / "gt_me.csv")]) == 2
    assert "--scores needs --videos" in capsys.readouterr().err
    assert main(["spot-eval", *ME_SET, "--type-by-length", "15"]) == 2
    assert "--type-by-length applies to --intervals" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["spot-eval", *ME_SET, *HE_EXAMPLE[:2]])       # --scores and --intervals together
    assert "not allowed with argument" in capsys.readouterr().err


def test_help_gives_the_runnable_examples():
    sub = next(a for a in build_parser()._actions if a.dest == "command").choices["spot-eval"]
    text = " ".join(sub.format_help().split())
    assert "--scores 'slswin_lib/reference/casme2/scores_{type}.npz'" in text
    assert "--intervals slswin_lib/reference/peers/he2024/spotted_casme2.csv" in text
    assert "{authors,megc,megc2020,overlap,strs,all}" in text


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "spot-eval evaluate spotted intervals or a score set against ground truth" in text


def test_version_is_the_installed_package_version(capsys):
    from importlib.metadata import version

    import slswin_lib

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"slswin {version('slswin')}\n"
    assert slswin_lib.__version__ == version("slswin")
