"""Writing tables and figures for the notebooks: CSV + Markdown tables, PNG figures, atomically."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from .io import atomic_path, atomic_write_text, figures_dir

__all__ = ["save_table", "save_figure"]


def save_table(df: pd.DataFrame, name: str, figures: str | os.PathLike | None = None, *,
               floatfmt: str = ".4f", caption: str = "") -> Path:
    """Write ``df`` as ``<name>.csv`` and ``<name>.md`` into the figures folder; returns the .md path.

    Args:
        df: the table; its index is written when it is named.
        name: file stem, prefixed by the notebook number by convention (``"09_released_counts"``).
        figures: folder, default :func:`slswin_lib.io.figures_dir`.
        floatfmt: number format of the Markdown table.
        caption: a line written above the Markdown table (e.g. the profile and data used).
    """
    out = figures_dir(figures)
    df = _flat_columns(df)
    keep_index = df.index.name is not None or any(n is not None for n in df.index.names)
    with atomic_path(out / f"{name}.csv") as tmp:
        df.to_csv(tmp, index=keep_index)
    md = _markdown(df, keep_index, floatfmt)
    atomic_write_text(out / f"{name}.md", (f"{caption}\n\n" if caption else "") + md + "\n")
    return out / f"{name}.md"


def _flat_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Column levels joined with " · " (``("ours", "F1")`` -> ``"ours · F1"``), for CSV and Markdown alike."""
    if not isinstance(df.columns, pd.MultiIndex):
        return df
    out = df.copy()
    out.columns = [" · ".join(str(p) for p in col if str(p)) for col in df.columns]
    return out


def _markdown(df: pd.DataFrame, index: bool, floatfmt: str) -> str:
    """Markdown with flattened column levels, integers as integers and floats as ``floatfmt``."""
    out = df.copy()
    if isinstance(out.index, pd.MultiIndex):
        out, index = out.reset_index(), False
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].map(lambda x: "" if pd.isna(x) else format(x, floatfmt))
    out = out.astype(object).where(out.notna(), "")
    return out.to_markdown(index=index, disable_numparse=True, stralign="right")


def save_figure(fig, name: str, figures: str | os.PathLike | None = None, *, dpi: int = 120) -> Path:
    """Save a matplotlib figure as ``<name>.png`` into the figures folder."""
    out = figures_dir(figures) / f"{name}.png"
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    return out
