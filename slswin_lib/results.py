"""Gather the tables and figures the notebooks wrote into one ``results.md`` (notebook 10).

Each section names the notebook that writes it; a table that is missing is listed as such (run
that notebook, or ``./run_all.sh``), so the results page never shows a stale or invented number.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .config import Profile
from .io import atomic_write_text, figures_dir

__all__ = ["SECTIONS", "sections", "loss_figure", "results_markdown", "write_results", "update_readme", "readme_block",
           "headline_f1", "table_markdown", "README_TABLES", "results_block", "event_counts", "auc_markdown"]

def loss_figure(model_name: str) -> str:
    """The stem of notebook 04's learning-curve figure of ``model_name``.

    >>> loss_figure("sl_swin_tiny_patch6_window7_42")
    '04_loss_sl_swin_tiny_patch6_window7_42'
    """
    return f"04_loss_{model_name}"


#: (heading, notebook, table stems, figure stems, note); the figures of the profile's model are
#: added by :func:`sections`
SECTIONS: list[tuple[str, str, list[str], list[str], str]] = [
    ("The published numbers, reproduced from the authors' released scores", "09_released_predictions",
     ["09_released_counts", "09_nested_t", "09_rescoring"], ["09_t_sweep", "09_rules_t_sweep", "09_spotting_example"],
     "Real CAS(ME)^2 data (the authors' released SL-Swin-T LOSO scores); independent of the profile."),
    ("Tables 2-3: MEGC 2021 LOSO, SL-Swin-T, SOFTNet and a training-free baseline", "05_spotting_evaluation",
     ["05_megc2021", "05_published_table2", "05_auc"], ["05_scores_me", "05_scores_mae"], ""),
    ("Table 4: architecture ablation (ME)", "06_ablation_architecture", ["06_table4_architecture"],
     ["06_table4_architecture"], ""),
    ("Table 5: pseudo vs original labels (ME)", "07_ablation_labels", ["07_table5_labels"],
     ["07_labels_example"], ""),
    ("The authors' code vs the paper's text (ME)", "07_ablation_labels", ["07_fidelity_ablation"], [], ""),
    ("Table 6: 42 x 42 vs 84 x 84 inputs (ME)", "08_ablation_feature_size", ["08_table6_feature_size"],
     ["08_mosaics"], ""),
    ("Model sizes", "03_model", ["03_model_sizes"], ["03_attention_lsa"], ""),
    ("Training folds", "04_training", [], [], ""),
    ("Data", "00_data", ["00_event_counts", "00_subjects"], ["00_montage_me", "00_montage_mae", "00_event_lengths"], ""),
]


def sections(profile: Profile) -> list[tuple[str, str, list[str], list[str], str]]:
    """:data:`SECTIONS` with the figures named after ``profile``'s model (notebook 04's learning curves)."""
    return [(h, nb, tables, figures + ([loss_figure(profile.model.name)] if nb == "04_training" else []), note)
            for h, nb, tables, figures, note in SECTIONS]


def table_markdown(folder: str | os.PathLike, stem: str) -> str | None:
    """The Markdown (caption included) of table ``stem`` in ``folder``, or None when not written."""
    path = Path(folder) / f"{stem}.md"
    return path.read_text().strip() if path.exists() else None


def results_markdown(folder: str | os.PathLike | None, profile: Profile, *, header: str = "") -> str:
    """The results page of a run of ``profile``: every known table (Markdown) and figure (linked)
    found in ``folder``."""
    folder = figures_dir(folder)
    out = ["# Results", "", header, ""] if header else ["# Results", ""]
    for heading, notebook, tables, figures, note in sections(profile):
        out += [f"## {heading}", "", f"*Written by `notebooks/{notebook}.ipynb`.* {note}".rstrip(), ""]
        for stem in tables:
            text = table_markdown(folder, stem)
            out += [text if text is not None else f"*(`{stem}` not generated yet: run `{notebook}`)*", ""]
        out += [f"![{stem}]({stem}.png)" for stem in figures if (folder / f"{stem}.png").exists()]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_results(folder: str | os.PathLike | None, profile: Profile, *, header: str = "") -> Path:
    """Write ``results.md`` of a run of ``profile`` into the figures folder; returns its path."""
    folder = figures_dir(folder)
    return atomic_write_text(folder / "results.md", results_markdown(folder, profile, header=header))


def _block_pattern(block: str) -> "re.Pattern[str]":
    return re.compile(rf"(<!-- {re.escape(block)}:start -->\n).*?(<!-- {re.escape(block)}:end -->)", re.S)


def readme_block(readme: str | os.PathLike, block: str = "results") -> str | None:
    """The text between ``<!-- <block>:start -->`` and ``<!-- <block>:end -->`` (None without the markers)."""
    m = _block_pattern(block).search(Path(readme).read_text())
    return None if m is None else m.group(0)[len(m.group(1)):-len(m.group(2))]


def update_readme(readme: str | os.PathLike, text: str, block: str = "results") -> bool:
    """Replace the block between ``<!-- <block>:start -->`` and ``<!-- <block>:end -->`` in the README.

    ``block``: ``"results"`` (notebook 10's headline numbers) or ``"fidelity"``
    (:func:`slswin_lib.config.fidelity_markdown`). Returns False (and changes nothing) when the
    README has no such block.
    """
    path = Path(readme)
    old = path.read_text()
    pattern = _block_pattern(block)
    if not pattern.search(old):
        return False
    atomic_write_text(path, pattern.sub(lambda m: m.group(1) + text.strip() + "\n" + m.group(2), old))
    return True


def headline_f1(folder: str | os.PathLike | None = None, *, intervals: bool = False):
    """F1 per method and threshold (rows) and type (columns) from notebook 05's table, authors' matching.

    Args:
        intervals: give each cell as text ``"F1 [low, high]"`` with its 95% bootstrap interval.

    Returns None when ``05_megc2021.csv`` has not been written.
    """
    import pandas as pd

    path = figures_dir(folder) / "05_megc2021.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    df = df[df["matching"] == "authors"]
    if intervals and {"F1 low", "F1 high"} <= set(df.columns):
        df = df.assign(F1=[f"{f:.4f} [{lo:.3f}, {hi:.3f}]" for f, lo, hi in zip(df["F1"], df["F1 low"], df["F1 high"])])
        table = df.pivot(index=["method", "threshold"], columns="type", values="F1")
        table = table.loc[list(dict.fromkeys(zip(df["method"], df["threshold"])))]
    else:
        table = df.pivot_table(index=["method", "threshold"], columns="type", values="F1", sort=False)
    return table[[c for c in ("mae", "me", "overall") if c in table.columns]]


def event_counts(folder: str | os.PathLike | None = None) -> dict | None:
    """The benchmark's counts from notebook 00's ``00_event_counts.csv`` (videos, subjects, me, mae), or None."""
    import pandas as pd

    path = figures_dir(folder) / "00_event_counts.csv"
    if not path.exists():
        return None
    row = pd.read_csv(path).iloc[0]
    return {k: int(row[k]) for k in ("videos", "subjects", "me", "mae")}


def auc_markdown(folder: str | os.PathLike | None = None) -> str | None:
    """Notebook 05's per-type AUC table (``| method | me | mae |``, one row per scorer), or None."""
    import pandas as pd

    from .report import markdown_table

    path = figures_dir(folder) / "05_auc.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    return markdown_table(table[[c for c in ("method", "me", "mae") if c in table.columns]], False, ".3f")


#: the ablation tables shown in the README's results block, after the headline F1
README_TABLES = ("06_table4_architecture", "07_table5_labels", "08_table6_feature_size", "07_fidelity_ablation")


def results_block(folder: str | os.PathLike | None = None, *, profile: str = "quick") -> str:
    """The README's results block: Table 2 of notebook 05 (F1 with intervals) and the ablation tables."""
    from .published import SOFTNET_F1, published_f1
    from .report import markdown_table

    folder = figures_dir(folder)
    paper, softnet = published_f1("casme2"), SOFTNET_F1["casme2"]
    block = [f"Profile `{profile}`, synthetic benchmark (from `figures/results.md`). Table 2: MEGC 2021 LOSO F1, "
             f"authors' matching, each method at its published t (SL-Swin-T 0.60, SOFTNet 0.55; the baseline at "
             f"0.60) and at a t chosen by nested LOSO (published on CAS(ME)^2: SL-Swin-T MaE {paper['mae']:.4f}, "
             f"ME {paper['me']:.4f}, overall {paper['overall']:.4f}; SOFTNet {softnet['mae']:.4f}, "
             f"{softnet['me']:.4f}, {softnet['overall']:.4f}):", ""]
    counts = event_counts(folder)
    if counts is not None:
        block[0] = (f"Profile `{profile}`, synthetic benchmark of {counts['me']} ME and {counts['mae']} MaE events in "
                    f"{counts['videos']} videos of {counts['subjects']} subjects" + block[0][block[0].index(" (from"):])
    f1 = headline_f1(folder, intervals=True)
    if f1 is not None:
        block += [markdown_table(f1.reset_index(), False, ".4f"),
                  "", "F1 [low, high]: 95% bootstrap interval over videos (notebook 05 says which differences it "
                  "resolves).", ""]
    auc = auc_markdown(folder)
    if auc is not None:
        block += ["Held-out per-frame ROC-AUC against the pseudo labels (notebook 05; 0.5 is chance):", "", auc, ""]
    for stem in README_TABLES:
        text = table_markdown(folder, stem)
        if text:
            block += [text, ""]
    return "\n".join(block)
