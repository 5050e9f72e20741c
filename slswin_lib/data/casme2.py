"""CAS(ME)^2 long videos (and the synthetic benchmark, written in the same layout).

Layout (paper Section 3.1, docs/method.md)::

    ROOT/rawpic/s15/15_0101disgustingteeth/img1.jpg, img2.jpg, ...
    ROOT/CAS(ME)^2code_final.xlsx          (also "...(Updated).xlsx" or "code_final.xlsx")

The sheet workbook has three sheets, read by position and without header rows:

* sheet 1, one row per expression: participant number, "<video name>_<expression number>"
  (e.g. ``anger1_1``), onset, apex, offset (1-based), AUs, estimated emotion, expression type
  ("macro-expression" / "micro-expression"), self-reported emotion;
* sheet 2 ("naming rule 2"): ..., subject code (``s15``), participant number;
* sheet 3 ("naming rule 1"): video code (``0401``), video name (``anger1``).

Sheet names and folder names do not match ("odd names": the sheet says ``anger1`` where the
folder says ``0401girlcrashing``, and folders carry typos such as ``0503unnyfarting``), so a row is
tied to a folder only through the subject code and the 4-digit video code, as in the authors'
code. Videos are keyed ``s15_0401``.

Bad input: a missing column, a non-numeric frame, an onset after its offset raise
:class:`~slswin_lib.data.base.DataError` naming the workbook and the Excel row. Rows whose video
name or participant is not in the naming sheets, or whose video folder does not exist, are
skipped with one warning and counted in ``Dataset.skipped`` (``strict=True`` raises instead).
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .annotations import clean_row, expression_type_of
from .base import (DataError, Dataset, Event, FramesVideo, Skip, attach_events, natural_key, open_workbook,
                   warn_skips)
from .video import frame_files

__all__ = ["SHEET_COLUMNS", "find_sheet", "read_casme2_sheet", "load_casme2", "subject_code",
           "VIDEO_DIR_RE"]

#: the columns of the first sheet, in order
SHEET_COLUMNS = ["participant", "video_name_expression", "onset", "apex", "offset", "aus",
                 "estimated_emotion", "expression_type", "self_reported_emotion"]
#: sheet columns that must be present (the rest are optional)
REQUIRED = 8
#: ``15_0101disgustingteeth`` -> subject number 15, video code 0101, name disgustingteeth
VIDEO_DIR_RE = re.compile(r"^(\d+)_(\d{4})(.*)$")
SHEET_GLOBS = ("CAS(ME)^2code_final*.xlsx", "CAS(ME)2code_final*.xlsx", "*code_final*.xlsx")


def subject_code(value) -> str:
    """Normalise a subject to ``sNN``: 15, "15", "s15", "S15" -> "s15".

    >>> subject_code(15), subject_code("S7"), subject_code(" s40 ")
    ('s15', 's07', 's40')
    """
    text = str(value).strip()
    if isinstance(value, float) and value == int(value):
        text = str(int(value))
    m = re.fullmatch(r"[sS]?(\d+)", text)
    if not m:
        raise ValueError(f"{value!r} is not a CAS(ME)^2 subject code like s15")
    return f"s{int(m.group(1)):02d}"


def find_sheet(root: Path) -> Path:
    for pattern in SHEET_GLOBS:
        hits = sorted(root.glob(pattern))
        if hits:
            return hits[0]
    raise FileNotFoundError(f"{root}: no annotation workbook {SHEET_GLOBS[0]!r}; pass sheet=PATH")


def read_casme2_sheet(path: str | Path, strict: bool = False) -> tuple[pd.DataFrame, list[Skip]]:
    """Parse a CAS(ME)^2 workbook into cleaned events.

    Returns a DataFrame with columns subject (``s15``), video_id (``0401``), type, onset, apex,
    offset (0-based, inclusive; annotation rules of docs/method.md applied), excel_row; and the counted skips.
    """
    path = Path(path)
    xl = open_workbook(path)
    if len(xl.sheet_names) < 3:
        raise DataError(f"{path}: expected 3 sheets (expressions, naming rule 2, naming rule 1), "
                        f"found {xl.sheet_names}")
    data = pd.read_excel(xl, sheet_name=xl.sheet_names[0], header=None)
    if data.shape[1] < REQUIRED:
        missing = SHEET_COLUMNS[data.shape[1]:REQUIRED]
        raise DataError(f"{path}, sheet {xl.sheet_names[0]!r}: missing annotation column(s) {missing}; "
                        f"expected columns {SHEET_COLUMNS}")
    subjects_sheet = pd.read_excel(xl, sheet_name=xl.sheet_names[1], header=None)
    codes_sheet = pd.read_excel(xl, sheet_name=xl.sheet_names[2], header=None, dtype=str)
    if subjects_sheet.shape[1] < 3 or codes_sheet.shape[1] < 2:
        raise DataError(f"{path}: naming sheets need 3 columns (.., subject, participant) and "
                        f"2 columns (code, name)")
    participants: dict[int, str] = {}
    for _, r in subjects_sheet.iterrows():
        try:
            participants[int(float(r.iloc[2]))] = subject_code(r.iloc[1])
        except (TypeError, ValueError):
            continue  # header or note rows
    names: dict[str, str] = {}
    for _, r in codes_sheet.iterrows():
        code, name = str(r.iloc[0]).strip(), str(r.iloc[1]).strip()
        if re.fullmatch(r"\d{1,4}", code):
            names[name.lower()] = code.zfill(4)

    rows, skips = [], []
    for idx, r in data.iterrows():
        excel_row = int(idx) + 1
        where = f"{path}, sheet {xl.sheet_names[0]!r}, row {excel_row}"
        if idx == 0 and not str(r.iloc[2]).strip().lstrip("-").replace(".", "", 1).isdigit():
            continue  # a header row
        if r.iloc[:REQUIRED].isna().all():
            continue  # blank row
        etype = expression_type_of(r.iloc[7])
        problem = None
        if etype is None:
            problem = f"expression type {r.iloc[7]!r} is neither macro- nor micro-expression"
        else:
            try:
                participant = int(float(r.iloc[0]))
            except (TypeError, ValueError):
                raise DataError(f"{where}: participant {r.iloc[0]!r} is not a number") from None
            vname = str(r.iloc[1]).strip().rsplit("_", 1)[0].lower()
            if participant not in participants:
                problem = f"participant {participant} is not in the naming sheet {xl.sheet_names[1]!r}"
            elif vname not in names:
                problem = f"video name {vname!r} is not in the naming sheet {xl.sheet_names[2]!r}"
        if problem:
            if strict:
                raise DataError(f"{where}: {problem}")
            skips.append(Skip(str(path), excel_row, problem))
            continue
        ev = clean_row(r.iloc[2], r.iloc[3], r.iloc[4], etype, where)
        rows.append((participants[participant], names[vname], ev.type, ev.onset, ev.apex, ev.offset,
                     excel_row))
    df = pd.DataFrame(rows, columns=["subject", "video_id", "type", "onset", "apex", "offset", "excel_row"])
    return df, skips


def load_casme2(root: str | Path, sheet: str | Path | None = None, fps: float = 30.0,
                strict: bool = False, dataset: str = "casme2", frames_dir: str = "rawpic") -> Dataset:
    """Read CAS(ME)^2 (or the synthetic benchmark) from ``root`` (see the module docs).

    ``frames_dir`` may name another folder of the same layout (e.g. ``cropped_rawpic``).
    Every video folder becomes a :class:`FramesVideo`, with or without events; use
    :meth:`Dataset.select` for the per-type sets.
    """
    root = Path(root)
    pic = root / frames_dir
    if not pic.is_dir():
        raise FileNotFoundError(f"{root}: no {frames_dir}/ folder; expected "
                                f"{frames_dir}/s15/15_0101disgustingteeth/img1.jpg ...")
    sheet_path = Path(sheet) if sheet else find_sheet(root)
    table, skips = read_casme2_sheet(sheet_path, strict=strict)

    videos: dict[tuple[str, str], FramesVideo] = {}
    for sdir in sorted((p for p in pic.iterdir() if p.is_dir()), key=natural_key):
        try:
            subject = subject_code(sdir.name)
        except ValueError:
            skips.append(Skip(str(sdir), None, "folder name is not a subject code like s15"))
            continue
        for vdir in sorted((p for p in sdir.iterdir() if p.is_dir()), key=natural_key):
            m = VIDEO_DIR_RE.match(vdir.name)
            if not m:
                skips.append(Skip(str(vdir), None, "folder name is not like 15_0101name"))
                continue
            files = frame_files(vdir, "img*.jpg")
            if not files:
                skips.append(Skip(str(vdir), None, "no img*.jpg frame"))
                continue
            code = m.group(2)
            videos[(subject, code)] = FramesVideo(dataset=dataset, subject=subject, video_id=code,
                                                  fps=fps, path=vdir, frame_paths=files)
    attach_events(videos, table, sheet_path, pic, strict=strict, skips=skips, sep="/")
    warn_skips(skips, f"CAS(ME)^2 reader ({root})")
    return Dataset(dataset, list(videos.values()), root, skips)
