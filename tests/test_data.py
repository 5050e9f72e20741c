"""Readers and annotation cleaning rules on small fixture trees in the real formats."""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from slswin_lib.data import DataError, Event, load_dataset
import slswin_lib.data.annotations as ann
from slswin_lib.data import base
from slswin_lib.data.casme2 import subject_code


# ----------------------------------------------------------------------------- helpers
def _frames(folder: Path, n: int, name=lambda i: f"img{i}.jpg", size=(8, 8)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        img = np.full((*size, 3), (i * 7) % 256, np.uint8)
        cv2.imwrite(str(folder / name(i)), img)


def _casme2_tree(root: Path, rows: list[list] | None = None) -> Path:
    _frames(root / "rawpic" / "s15" / "15_0401girlcrashing", 30)
    _frames(root / "rawpic" / "s15" / "15_0503unnyfarting", 20)  # CAS(ME)^2's folder typo
    _frames(root / "rawpic" / "s16" / "16_0101disgustingteeth", 10)
    if rows is None:
        rows = [
            [1, "anger1_1", 5, 8, 12, "4", "negative", "macro-expression", "anger"],
            [1, "anger1_2", 15, 17, 0, "4", "negative", "micro-expression", "anger"],   # offset 0
            [1, "happy2_1", 2, 4, 9, "12", "positive", "micro-expression", "happy"],
            [2, "disgust1_1", 1, 3, 6, "9", "negative", "macro-expression", "disgust"],
            [2, "happy1_1", 3, 4, 5, "12", "positive", "micro-expression", "happy"],     # no folder
        ]
    with pd.ExcelWriter(root / "CAS(ME)^2code_final.xlsx", engine="openpyxl") as xw:
        pd.DataFrame(rows).to_excel(xw, sheet_name="Sheet1", header=False, index=False)
        pd.DataFrame([[15, "s15", 1], [16, "s16", 2]]).to_excel(xw, sheet_name="naming rule2",
                                                                   header=False, index=False)
        pd.DataFrame([["0401", "anger1"], ["0503", "happy2"], ["0101", "disgust1"], ["0502", "happy1"]]
                     ).to_excel(xw, sheet_name="naming rule1", header=False, index=False)
    return root


SAMM_HEADER = ["Subject", "Filename", "Inducement Code", "Onset", "Apex", "Offset", "Duration",
               "Type", "Action Units", "Notes"]


def _samm_tree(root: Path, data: list[list] | None = None, header=SAMM_HEADER,
               release: str = "SAMM_LongVideos_V1_Release.xlsx") -> Path:
    _frames(root / "SAMM_longvideos" / "006_1", 40, name=lambda i: f"006_1_{i:04d}.jpg")
    _frames(root / "SAMM_longvideos" / "007_2", 20, name=lambda i: f"007_2_{i:04d}.jpg")
    if data is None:
        data = [
            [6, "006_1_1", 1, 5, 8, 12, 8, "Micro - 1/2", "12", None],
            [6, "006_1_2", 1, 1, 10, 30, 30, "Macro", "4", "very long"],   # dropped: onset 1
            [6, "006_1_3", 1, 1, 6, 0, 0, "Macro", "4", None],            # offset 0 -> apex, kept
            [7, "007_2_1", 2, 3, -1, 9, 7, "Macro", "12", None],          # unknown apex
        ]
    notes = [[f"note {i}"] + [None] * (len(header) - 1) for i in range(9)]
    pd.DataFrame(notes + [header] + data).to_excel(root / release, header=False, index=False)
    return root


# ----------------------------------------------------------------------------- rules
def test_rule_offset_or_apex():
    assert ann.offset_or_apex(10, 14, 0) == 14
    assert ann.offset_or_apex(10, 14, 20) == 20


def test_rule_to_zero_based():
    assert ann.to_zero_based(1, 30) == (0, 29)


def test_rule_drop_samm_long_macro():
    assert ann.drop_samm_long_macro("mae", 1, 500) is True
    assert ann.drop_samm_long_macro("mae", 1, 0) is False   # offset-0 branch first, as in [code]
    assert ann.drop_samm_long_macro("mae", 2, 500) is False
    assert ann.drop_samm_long_macro("me", 1, 9) is False


def test_rule_check_interval_names_row():
    ann.check_interval(3, 3, "x.xlsx, row 4")
    with pytest.raises(DataError, match=r"x\.xlsx, row 4: onset 6 is after offset 5"):
        ann.check_interval(5, 4, "x.xlsx, row 4")
    with pytest.raises(DataError, match="before the first frame"):
        ann.check_interval(-1, 4, "x.xlsx, row 4")


def test_rule_clean_row_and_apex():
    assert ann.clean_row(5, 8, 12, "mae", "w") == Event(4, 7, 11, "mae")
    assert ann.clean_row(15, 17, 0, "me", "w") == Event(14, 16, 16, "me")
    assert ann.clean_row(3, -1, 9, "mae", "w") == Event(2, 5, 8, "mae")     # midpoint apex
    assert ann.clean_row(1, 10, 30, "mae", "w", samm=True) is None
    with pytest.raises(DataError, match="'onset' holds 'abc'"):
        ann.clean_row("abc", 1, 2, "me", "w")
    with pytest.raises(DataError, match="'offset' is empty"):
        ann.clean_row(3, 4, float("nan"), "me", "w")


def test_rule_videos_with_type_and_k():
    from slswin_lib.data.base import FramesVideo

    a = FramesVideo("d", "s1", "1", 30.0, Path("."), [Event(0, 2, 10, "me")])
    b = FramesVideo("d", "s1", "2", 30.0, Path("."), [Event(0, 20, 40, "mae")])
    assert base.videos_with_type([a, b], "me") == [a]
    # (10 + 11) / 2 = 10.5 -> int((10.5 + 1) / 2) = 5
    assert base.compute_k([Event(0, 2, 10, "me"), Event(5, 6, 16, "me")]) == 5
    assert base.mean_half_length([Event(0, 2, 10, "me"), Event(5, 6, 16, "me")]) == 5.75
    with pytest.raises(ValueError, match="no events"):
        base.compute_k([])


def test_expression_type_and_subject_code():
    assert ann.expression_type_of("Micro - 1/2") == "me"
    assert ann.expression_type_of("macro-expression") == "mae"
    assert ann.expression_type_of("Other") is None
    assert [subject_code(x) for x in (15, "S7", "s40", 15.0)] == ["s15", "s07", "s40", "s15"]


# ----------------------------------------------------------------------------- CAS(ME)^2
def test_casme2_reader(tmp_path):
    root = _casme2_tree(tmp_path / "CASME2")
    with pytest.warns(UserWarning, match=r"skipped 1 item.*row 5: video s16/0502 has no folder"):
        ds = load_dataset("casme2", root)
    assert [v.key for v in ds.videos] == ["s15_0401", "s15_0503", "s16_0101"]
    assert ds.subjects == ["s15", "s16"]
    assert [v.n_frames for v in ds.videos] == [30, 20, 10]
    assert ds["s15_0401"].events == [Event(4, 7, 11, "mae"), Event(14, 16, 16, "me")]
    assert ds["s15_0503"].events == [Event(1, 3, 8, "me")]
    assert ds["s16_0101"].events == [Event(0, 2, 5, "mae")]
    df = ds.annotations()
    assert list(df.columns) == ["subject", "video_id", "type", "onset", "apex", "offset"]
    assert len(df) == 4 and len(ds.skipped) == 1 and ds.skipped[0].row == 5
    assert [v.key for v in ds.select("me")] == ["s15_0401", "s15_0503"]
    assert [v.key for v in ds.select("mae")] == ["s15_0401", "s16_0101"]
    # me: offsets-onsets 2 and 7 -> mean 4.5 -> int(2.75) = 2; mae: 7 and 5 -> int(3.5) = 3
    assert ds.compute_k("me") == 2 and ds.compute_k("mae") == 3
    assert ds.subset(exclude=["s15"]).compute_k("mae") == 3   # only [0, 5]: int(3.0)
    frame = ds["s15_0401"].frame(2)
    assert frame.shape == (8, 8, 3) and frame.dtype == np.uint8 and abs(int(frame[0, 0, 0]) - 21) <= 2
    assert len(list(ds["s16_0101"].frames(3, 6))) == 3


def test_casme2_strict_missing_video(tmp_path):
    root = _casme2_tree(tmp_path / "c")
    with pytest.raises(DataError, match=r"row 5: video s16/0502 has no folder"):
        load_dataset("casme2", root, strict=True)


def test_casme2_onset_after_offset(tmp_path):
    rows = [[1, "anger1_1", 12, 8, 5, "4", "negative", "macro-expression", "anger"]]
    root = _casme2_tree(tmp_path / "c", rows)
    with pytest.raises(DataError, match=r"code_final\.xlsx, sheet 'Sheet1', row 1: onset 12 is after offset 5"):
        load_dataset("casme2", root)


def test_casme2_missing_column(tmp_path):
    rows = [[1, "anger1_1", 5, 8, 12]]
    root = _casme2_tree(tmp_path / "c", rows)
    with pytest.raises(DataError, match=r"missing annotation column.*'estimated_emotion'"):
        load_dataset("casme2", root)


def test_casme2_missing_frame(tmp_path):
    root = _casme2_tree(tmp_path / "c")
    (root / "rawpic" / "s15" / "15_0401girlcrashing" / "img7.jpg").unlink()
    with pytest.raises(DataError, match=r"15_0401girlcrashing: frame number 7 is missing"):
        load_dataset("casme2", root)


def test_unreadable_frame_names_file(tmp_path):
    root = _casme2_tree(tmp_path / "c")
    bad = root / "rawpic" / "s16" / "16_0101disgustingteeth" / "img4.jpg"
    bad.write_bytes(b"not a jpeg")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = load_dataset("casme2", root)
    with pytest.raises(DataError, match="img4.jpg: missing or unreadable"):
        ds["s16_0101"].frame(3)


def test_casme2_offset_beyond_video(tmp_path):
    rows = [[2, "disgust1_1", 1, 3, 60, "9", "negative", "macro-expression", "disgust"]]
    root = _casme2_tree(tmp_path / "c", rows)
    with pytest.raises(DataError, match=r"row 1: offset 60 is beyond the last frame \(10\)"):
        load_dataset("casme2", root)


# ----------------------------------------------------------------------------- SAMM-LV
def test_samm_reader(tmp_path):
    ds = load_dataset("samm_lv", _samm_tree(tmp_path / "SAMM"))
    assert [v.key for v in ds.videos] == ["006_1", "007_2"]
    assert ds.videos[0].fps == 200.0
    assert ds["006_1"].events == [Event(0, 5, 5, "mae"), Event(4, 7, 11, "me")]
    assert ds["007_2"].events == [Event(2, 5, 8, "mae")]
    assert [(s.row, s.reason.startswith("Macro row with onset 1")) for s in ds.skipped] == [(12, True)]
    assert ds.compute_k("mae") == 3     # (5 + 6) / 2 = 5.5 -> int(3.25)
    assert ds.compute_k("me") == 4      # 7 -> int(4.0)


def test_samm_reader_prefers_the_newest_release(tmp_path):
    root = _samm_tree(tmp_path / "SAMM")   # V1: the four rows above
    _samm_tree(root, [[6, "006_1_1", 1, 5, 8, 12, 8, "Micro - 1/2", "12", None]],
               release="SAMM_LongVideos_V3_Release.xlsx")
    ds = load_dataset("samm_lv", root)
    assert ds.annotation_file == root / "SAMM_LongVideos_V3_Release.xlsx"
    assert ds.select("me").annotation_file == ds.annotation_file
    assert ds["006_1"].events == [Event(4, 7, 11, "me")]
    assert ds["007_2"].events == []


def test_samm_two_workbooks_of_one_release_is_an_error(tmp_path):
    root = _samm_tree(tmp_path / "SAMM")
    _samm_tree(root, release="SAMM_longvideos_V1.xlsx")
    with pytest.raises(DataError, match=r"are all release 1; pass sheet=PATH"):
        load_dataset("samm_lv", root)


@pytest.mark.parametrize("label", ["micro", "Micro", "macro-expression", "Micro - 1/2 ", None])
def test_samm_unknown_type_names_row_and_the_types(tmp_path, label):
    data = [[6, "006_1_1", 1, 5, 8, 12, 8, "Micro - 1/2", "12", None], [6, "006_1_2", 1, 15, 18, 20, 6, label, "12", None]]
    with pytest.raises(DataError, match=r"V1_Release\.xlsx, row 12: Type .* is not a SAMM-LV type; .*"
                                        r"\['Macro', 'Micro - 1/2'\]"):
        load_dataset("samm_lv", _samm_tree(tmp_path / "S", data))


def test_samm_missing_column(tmp_path):
    header = [h for h in SAMM_HEADER if h != "Offset"]
    data = [[6, "006_1_1", 1, 5, 8, 8, "Micro - 1/2", "12", None]]
    with pytest.raises(DataError, match=r"row 10: missing annotation column\(s\) \['Offset'\]"):
        load_dataset("samm_lv", _samm_tree(tmp_path / "S", data, header))


def test_samm_onset_after_offset_names_row(tmp_path):
    data = [[6, "006_1_1", 1, 9, 8, 5, 0, "Micro - 1/2", "12", None]]
    with pytest.raises(DataError, match=r"SAMM_LongVideos_V1_Release\.xlsx, row 11: onset 9 is after offset 5"):
        load_dataset("samm_lv", _samm_tree(tmp_path / "S", data))


# ----------------------------------------------------------------------------- MEGC 2022, plain
def test_megc2022_cas(tmp_path):
    _frames(tmp_path / "CAS_Test" / "cas_1", 12, size=(16, 16))
    _frames(tmp_path / "CAS_Test" / "cas_2", 8, size=(16, 16))
    ds = load_dataset("megc2022_cas", tmp_path / "CAS_Test")
    assert [(v.name, v.subject, v.n_frames, v.fps, v.events) for v in ds] == [
        ("cas_1", "cas", 12, 30.0, []), ("cas_2", "cas", 8, 30.0, [])]
    assert ds["cas_2"].key == "cas_2"
    assert load_dataset("megc2022_samm", tmp_path / "CAS_Test").videos[0].fps == 200.0


def _write_mp4(path: Path, n: int, size=(32, 24)) -> None:
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, size)
    assert w.isOpened()
    for i in range(n):
        w.write(np.full((size[1], size[0], 3), 20 * i, np.uint8))
    w.release()


def test_plain_video_file_and_corrupt_scan(tmp_path):
    _write_mp4(tmp_path / "clip.mp4", 9)
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 1000)
    _frames(tmp_path / "framesdir", 5, name=lambda i: f"f{i:03d}.png", size=(6, 6))
    one = load_dataset("video", tmp_path / "clip.mp4")
    v = one.videos[0]
    assert (v.n_frames, v.fps, v.key) == (9, 25.0, "clip_1")
    frames = list(v.frames())
    assert len(frames) == 9 and frames[0].shape == (24, 32, 3)
    assert abs(int(v.frame(4)[10, 10, 0]) - 80) <= 6 and abs(int(v.frame(2)[10, 10, 0]) - 40) <= 6
    with pytest.warns(UserWarning, match=r"skipped 1 item.*broken\.mp4: OpenCV cannot decode"):
        ds = load_dataset("video", tmp_path)
    assert sorted(v.name for v in ds) == ["clip", "framesdir"]
    assert ds["framesdir"].n_frames == 5 and len(ds.skipped) == 1
    with pytest.raises(DataError, match="broken.mp4"):
        load_dataset("video", tmp_path / "broken.mp4")


def test_unknown_kind_and_missing_root(tmp_path):
    with pytest.raises(ValueError, match="unknown data set kind"):
        load_dataset("casme3", tmp_path)
    with pytest.raises(ValueError, match="needs root="):
        load_dataset("casme2")
    with pytest.raises(FileNotFoundError, match="no rawpic/ folder"):
        load_dataset("casme2", tmp_path)


# ----------------------------------------------------------------------------- k of a LOSO fold
def test_compute_k_from_chosen_subjects():
    """k from all subjects (the authors' code) vs from a fold's training subjects only."""
    from slswin_lib.data import Dataset, FramesVideo

    def video(subject, *events):
        return FramesVideo("toy", subject, "v1", 30.0, Path("."), events=list(events))

    ds = Dataset("toy", [video("a", Event(0, 2, 10, "mae"), Event(40, 41, 43, "me")),   # lengths 10, 3
                         video("b", Event(5, 9, 25, "mae")),                              # 20
                         video("c", Event(1, 3, 4, "mae"), Event(9, 10, 16, "me"))])      # 3, 7
    # all subjects: mae (10 + 20 + 3) / 3 = 11 -> int(6.0) = 6; me (3 + 7) / 2 = 5 -> int(3.0) = 3
    assert ds.compute_k("mae") == ds.compute_k("mae", ds.subjects) == 6 and ds.compute_k("me") == 3
    # fold "c" held out: training subjects a, b: mae (10 + 20) / 2 = 15 -> int(8.0) = 8; me 3 -> int(2.0) = 2
    assert ds.compute_k("mae", ["a", "b"]) == 8 and ds.compute_k("me", ("a", "b")) == 2
    # fold "b" held out: mae (10 + 3) / 2 = 6.5 -> int(3.75) = 3
    assert ds.compute_k("mae", ["a", "c"]) == 3
    with pytest.raises(ValueError, match="no events"):
        ds.compute_k("me", ["b"])
    with pytest.raises(DataError, match=r"subjects \['z'\] are not in data set toy.*known: \['a', 'b', 'c'\]"):
        ds.compute_k("mae", ["a", "z"])
