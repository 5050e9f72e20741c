"""SAMM Long Videos (SAMM-LV).

Layout (paper Section 3.1, docs/method.md)::

    ROOT/SAMM_longvideos/006_1/006_1_0001.jpg, 006_1_0002.jpg, ...
    ROOT/SAMM_LongVideos_V3_Release.xlsx       (the authors' code reads V3; V1/V2 are found as well)

The workbook's first sheet starts with a block of notes; the header row (found by its
``Filename`` and ``Onset`` cells, row 10 in the releases) names the columns Subject, Filename,
Inducement Code, Onset, Apex, Offset, Duration, Type, Action Units, Notes. The type strings are
matched exactly, as in the authors' code (:data:`SAMM_TYPES`: ``"Macro"``, ``"Micro - 1/2"``); any
other is an error naming the row. When several releases of the workbook lie in ``ROOT``, the newest
(highest ``_V<n>``) is read (:func:`find_samm_workbook`) and ``Dataset.annotation_file`` names it. ``Filename`` ``006_1_3`` belongs to video folder ``006_1``: subject ``006``, video id ``1``.
Onsets are 1-based; the annotation rules of docs/method.md apply, including "drop Macro rows with onset 1".
Unknown apexes (``-1``) become the interval midpoint. Errors and skips as for CAS(ME)^2.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .annotations import clean_row
from .base import (DataError, Dataset, Event, FramesVideo, Skip, attach_events, natural_key, open_workbook,
                   warn_skips)
from .video import frame_files

__all__ = ["SAMM_REQUIRED", "SAMM_TYPES", "read_samm_sheet", "find_samm_workbook", "load_samm_lv"]

SAMM_REQUIRED = ("Filename", "Onset", "Apex", "Offset", "Type")
#: the ``Type`` cells of the SAMM-LV releases, matched exactly as in the authors' code
SAMM_TYPES: dict[str, str] = {"Macro": "mae", "Micro - 1/2": "me"}
SHEET_GLOBS = ("SAMM_LongVideos*.xlsx", "SAMM_longvideos*.xlsx", "*SAMM*.xlsx")
#: the release number in a workbook's name (``SAMM_LongVideos_V3_Release.xlsx`` -> 3)
_RELEASE = re.compile(r"_V(\d+)(?=[_.])", re.IGNORECASE)


def _release(path: Path) -> int:
    """The workbook's release number (0 when its name has none)."""
    found = _RELEASE.search(path.name)
    return int(found.group(1)) if found else 0


def find_samm_workbook(root: str | Path) -> Path:
    """The annotation workbook in ``root``: the newest release (highest ``_V<n>`` in the name).

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     for v in (1, 3): _ = (Path(d) / f"SAMM_LongVideos_V{v}_Release.xlsx").write_bytes(b"")
    ...     find_samm_workbook(d).name
    'SAMM_LongVideos_V3_Release.xlsx'

    Raises:
        FileNotFoundError: no workbook.
        DataError: several workbooks of the same newest release (which to read is unclear).
    """
    root = Path(root)
    hits = sorted({h for g in SHEET_GLOBS for h in root.glob(g)})
    if not hits:
        raise FileNotFoundError(f"{root}: no annotation workbook {SHEET_GLOBS[0]!r}; pass sheet=PATH")
    newest = max(_release(h) for h in hits)
    top = [h for h in hits if _release(h) == newest]
    if len(top) > 1:
        raise DataError(f"{root}: workbooks {[h.name for h in top]} are all release {newest}; pass sheet=PATH "
                        "to say which to read")
    return top[0]


def read_samm_sheet(path: str | Path) -> tuple[pd.DataFrame, list[Skip]]:
    """Parse a SAMM-LV workbook: columns subject, video_id, type, onset, apex, offset
    (0-based, inclusive), excel_row; plus the counted skips.

    Raises:
        DataError: a missing column, or a ``Type`` cell other than :data:`SAMM_TYPES` (named by row).
    """
    path = Path(path)
    xl = open_workbook(path)
    raw = pd.read_excel(xl, sheet_name=xl.sheet_names[0], header=None, dtype=object)
    header_row = None
    for i in range(min(len(raw), 30)):
        cells = {str(c).strip() for c in raw.iloc[i].tolist()}
        if {"Filename", "Onset"} <= cells:
            header_row = i
            break
    if header_row is None:
        raise DataError(f"{path}: no header row with 'Filename' and 'Onset' in the first 30 rows; "
                        f"expected the SAMM-LV release format")
    header = [str(c).strip() for c in raw.iloc[header_row].tolist()]
    missing = [c for c in SAMM_REQUIRED if c not in header]
    if missing:
        raise DataError(f"{path}, row {header_row + 1}: missing annotation column(s) {missing}; "
                        f"found {header}")
    col = {name: header.index(name) for name in SAMM_REQUIRED}
    rows, skips = [], []
    for i in range(header_row + 1, len(raw)):
        r = raw.iloc[i]
        excel_row = i + 1
        where = f"{path}, row {excel_row}"
        fname = r.iloc[col["Filename"]]
        if pd.isna(fname) or str(fname).strip() == "":
            continue
        parts = str(fname).strip().split("_")
        if len(parts) < 2:
            raise DataError(f"{where}: Filename {fname!r} is not like 006_1_3")
        label = r.iloc[col["Type"]]
        etype = SAMM_TYPES.get(label) if isinstance(label, str) else None
        if etype is None:
            raise DataError(f"{where}: Type {label!r} is not a SAMM-LV type; the releases (and the authors' "
                            f"code) use exactly {list(SAMM_TYPES)}; correct the cell")
        ev = clean_row(r.iloc[col["Onset"]], r.iloc[col["Apex"]], r.iloc[col["Offset"]], etype, where,
                       samm=True)
        if ev is None:
            skips.append(Skip(str(path), excel_row, "Macro row with onset 1 dropped (annotation rule of docs/method.md)"))
            continue
        subject = parts[0].zfill(3)
        rows.append((subject, parts[1], ev.type, ev.onset, ev.apex, ev.offset, excel_row))
    df = pd.DataFrame(rows, columns=["subject", "video_id", "type", "onset", "apex", "offset", "excel_row"])
    return df, skips


def load_samm_lv(root: str | Path, sheet: str | Path | None = None, fps: float = 200.0,
                 strict: bool = False, dataset: str = "samm_lv",
                 frames_dir: str = "SAMM_longvideos") -> Dataset:
    """Read SAMM-LV from ``root`` (the folder holding ``SAMM_longvideos/`` and the workbook).

    The workbook is ``sheet``, else the newest release in ``root`` (:func:`find_samm_workbook`);
    ``Dataset.annotation_file`` names the one read. The rule-dropped Macro rows are counted in
    ``Dataset.skipped`` without a warning.
    """
    root = Path(root)
    pic = root / frames_dir
    if not pic.is_dir() and root.name == frames_dir:
        pic, root = root, root.parent
    if not pic.is_dir():
        raise FileNotFoundError(f"{root}: no {frames_dir}/ folder; expected "
                                f"{frames_dir}/006_1/006_1_0001.jpg ...")
    sheet_path = find_samm_workbook(root) if sheet is None else Path(sheet)
    table, skips = read_samm_sheet(sheet_path)

    videos: dict[tuple[str, str], FramesVideo] = {}
    for vdir in sorted((p for p in pic.iterdir() if p.is_dir()), key=natural_key):
        parts = vdir.name.split("_")
        if len(parts) != 2:
            skips.append(Skip(str(vdir), None, "folder name is not like 006_1"))
            continue
        files = frame_files(vdir, "*.jpg")
        if not files:
            skips.append(Skip(str(vdir), None, "no jpg frame"))
            continue
        subject = parts[0].zfill(3)
        videos[(subject, parts[1])] = FramesVideo(dataset=dataset, subject=subject, video_id=parts[1],
                                                  fps=fps, path=vdir, frame_paths=files)
    attach_events(videos, table, sheet_path, pic, strict=strict, skips=skips)
    warn_skips([s for s in skips if "annotation rule of docs/method.md" not in s.reason], f"SAMM-LV reader ({root})")
    return Dataset(dataset, list(videos.values()), root, skips, annotation_file=sheet_path)
