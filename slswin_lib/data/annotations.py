"""Annotation cleaning rules of the authors' code (**[code]**, see ``docs/method.md``), one function each.

The sheets of CAS(ME)^2 and SAMM-LV give 1-based frame numbers. The rules, in the order the
readers apply them to one sheet row:

1. :func:`offset_or_apex`: an offset of 0 (not annotated) is replaced by the apex.
2. :func:`drop_samm_long_macro`: SAMM-LV macro rows with onset 1 are dropped (very long
   samples); as in the authors' code this applies only to rows with a non-zero offset.
3. :func:`to_zero_based`: the interval is ``[onset - 1, offset - 1]``.
4. :func:`check_interval`: an onset after the offset is an error naming the file and row.

Two rules use the cleaned annotations and live beside the data-set types in
:mod:`slswin_lib.data.base`: :func:`~slswin_lib.data.base.videos_with_type` (a video enters a type's
set only with at least one interval) and :func:`~slswin_lib.data.base.compute_k` (paper Section 2.1).
"""
from __future__ import annotations

import math

from .base import DataError, Event

__all__ = [
    "offset_or_apex", "drop_samm_long_macro", "to_zero_based", "check_interval", "fix_apex",
    "clean_row", "expression_type_of",
]


def offset_or_apex(onset: int, apex: int, offset: int) -> int:
    """Rule "offset 0 -> apex" (1-based numbers): the offset to use for a sheet row.

    >>> offset_or_apex(10, 14, 0), offset_or_apex(10, 14, 20)
    (14, 20)
    """
    return apex if offset == 0 else offset


def drop_samm_long_macro(type: str, onset: int, offset: int) -> bool:
    """Rule "SAMM MaE drops Macro rows with onset 1": True when the SAMM-LV row must be dropped.

    Only rows with an annotated (non-zero) offset are dropped, as in the authors' code, where
    the offset-0 branch is taken first.

    >>> drop_samm_long_macro("mae", 1, 500), drop_samm_long_macro("mae", 1, 0), drop_samm_long_macro("me", 1, 9)
    (True, False, False)
    """
    return type == "mae" and onset == 1 and offset != 0


def to_zero_based(onset: int, offset: int) -> tuple[int, int]:
    """Rule "interval = [onset-1, offset-1]" (1-based sheet numbers to 0-based frames).

    >>> to_zero_based(1, 30)
    (0, 29)
    """
    return onset - 1, offset - 1


def check_interval(onset: int, offset: int, where: str) -> None:
    """Raise :class:`DataError` naming ``where`` (file and row) for a negative or reversed interval."""
    if onset < 0:
        raise DataError(f"{where}: onset {onset + 1} is before the first frame (sheet numbers are "
                        f"1-based); correct the row")
    if onset > offset:
        raise DataError(f"{where}: onset {onset + 1} is after offset {offset + 1}; correct the row "
                        f"(an offset of 0 means 'use the apex')")


def fix_apex(onset: int, apex: int | None, offset: int) -> int:
    """0-based apex inside ``[onset, offset]``; a missing or out-of-range apex becomes the midpoint.

    >>> fix_apex(10, 12, 20), fix_apex(10, None, 20), fix_apex(10, 40, 20)
    (12, 15, 15)
    """
    if apex is None or not onset <= apex <= offset:
        return (onset + offset) // 2
    return apex


def _as_int(value, column: str, where: str, allow_missing: bool = False) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or (
            isinstance(value, str) and value.strip() in ("", "-", "/")):
        if allow_missing:
            return None
        raise DataError(f"{where}: column {column!r} is empty; fill in a frame number")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{where}: column {column!r} holds {value!r}, not a frame number") from None
    if allow_missing and f < 0:  # SAMM-LV marks unknown apexes with -1
        return None
    if f != int(f):
        raise DataError(f"{where}: column {column!r} holds {value!r}, not a whole frame number")
    return int(f)


def clean_row(onset, apex, offset, type: str, where: str, samm: bool = False) -> Event | None:
    """Apply the rules above to one sheet row (1-based numbers); None when the row is dropped."""
    on = _as_int(onset, "onset", where)
    ap = _as_int(apex, "apex", where, allow_missing=True)
    off = _as_int(offset, "offset", where)
    if off == 0 and ap is None:
        raise DataError(f"{where}: offset is 0 and the apex is missing; the interval is unknown")
    if samm and drop_samm_long_macro(type, on, off):
        return None
    off = offset_or_apex(on, ap, off)
    on0, off0 = to_zero_based(on, off)
    check_interval(on0, off0, where)
    ap0 = fix_apex(on0, None if ap is None else ap - 1, off0)
    return Event(on0, ap0, off0, type)


def expression_type_of(label) -> str | None:
    """Map a sheet's type label to ``"me"``/``"mae"``: "micro-expression", "Micro - 1/2" -> me;
    "macro-expression", "Macro" -> mae; anything else -> None.

    >>> expression_type_of("Micro - 1/2"), expression_type_of("macro-expression"), expression_type_of("x")
    ('me', 'mae', None)
    """
    text = str(label).strip().lower()
    if text.startswith("micro"):
        return "me"
    if text.startswith("macro"):
        return "mae"
    return None
