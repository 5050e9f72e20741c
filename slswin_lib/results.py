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
           "headline_f1", "table2_compact", "ablation_compact", "verdict_sentence", "odd_numbers", "table_markdown",
           "README_TABLES", "results_block", "event_counts", "auc_markdown", "TYPE_ORDER"]

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
     ["09_released_counts", "09_nested_t", "09_rescoring", "09_one_protocol", "09_one_protocol_rules",
      "09_one_protocol_counts"], ["09_t_sweep", "09_rules_t_sweep", "09_spotting_example"],
     "Real CAS(ME)^2 data: the authors' released SL-Swin-T LOSO scores and the peers' released outputs (LGSNet, "
     "He et al. 2024); independent of the profile."),
    ("Tables 2-3: MEGC 2021 LOSO, SL-Swin-T, SOFTNet and a training-free baseline", "05_spotting_evaluation",
     ["05_megc2021", "05_published_table2", "05_auc"], ["05_table2", "05_scores_me", "05_scores_mae"], ""),
    ("Table 4: architecture ablation", "06_ablation_architecture", ["06_table4_architecture", "06_verdict"],
     ["06_table4_architecture", "06_table4_architecture_mae"], ""),
    ("Table 5: pseudo vs original labels", "07_ablation_labels", ["07_table5_labels", "07_verdict"],
     ["07_labels_example", "07_table5_labels"], ""),
    ("The authors' code vs the paper's text (ME)", "07_ablation_labels", ["07_fidelity_ablation"], [], ""),
    ("Table 6: 42 x 42 vs 84 x 84 inputs", "08_ablation_feature_size", ["08_table6_feature_size", "08_verdict"],
     ["08_table6_me", "08_table6_mae", "08_mosaics"], ""),
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


def _diff_cell(d, low, high) -> str:
    """A paired F1 difference with its interval, in bold when resolved (the interval excludes 0)."""
    import pandas as pd

    if pd.isna(d):
        return ""
    text = f"{d:+.4f} [{low:+.3f}, {high:+.3f}]"
    return f"**{text}**" if (low > 0 or high < 0) else text


#: the order of the types in every README table: ME before MaE, then overall
TYPE_ORDER = ("me", "mae", "overall")


def headline_f1(folder: str | os.PathLike | None = None, *, intervals: bool = False, matching: str = "authors"):
    """F1 per method and threshold (rows) and type (columns: ME, MaE, overall) from notebook 05's table,
    one matching rule.

    Args:
        intervals: give each cell as text ``"F1 [low, high]"`` with its 95% bootstrap interval.

    Returns None when ``05_megc2021.csv`` has not been written.
    """
    import pandas as pd

    from .report import f1_text

    path = figures_dir(folder) / "05_megc2021.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    df = df[df["matching"] == matching]
    if intervals and {"F1 low", "F1 high"} <= set(df.columns):
        df = df.assign(F1=[f1_text(f, lo, hi) for f, lo, hi in zip(df["F1"], df["F1 low"], df["F1 high"])])
        table = df.pivot(index=["method", "threshold"], columns="type", values="F1")
        table = table.loc[list(dict.fromkeys(zip(df["method"], df["threshold"])))]
    else:
        table = df.pivot_table(index=["method", "threshold"], columns="type", values="F1", sort=False)
    return table[[c for c in TYPE_ORDER if c in table.columns]]


def table2_compact(folder: str | os.PathLike | None = None, *, matching: str = "authors"):
    """Table 2 for the README: one row per method and threshold choice, ``F1 [low, high]`` of ME, MaE
    and overall, and the paired difference of overall F1 to the reference method (bold: resolved);
    None when notebook 05 has not run."""
    import pandas as pd

    path = figures_dir(folder) / "05_megc2021.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path)
    df = df[df["matching"] == matching]
    table = headline_f1(folder, intervals=True, matching=matching)
    table.columns = [{"me": "ME", "mae": "MaE", "overall": "overall"}[c] for c in table.columns]
    if "diff" in df.columns:
        overall = df[df["type"] == "overall"].set_index(["method", "threshold"])
        reference = df.loc[df["diff"].isna(), "method"].iloc[0] if df["diff"].isna().any() else ""
        table[f"overall - {reference}"] = [_diff_cell(*overall.loc[i, ["diff", "diff low", "diff high"]])
                                           if i in overall.index else "" for i in table.index]
    table = table.reset_index()
    first = df.groupby(["method", "threshold"], sort=False).first()

    def setting(method: str, threshold: str) -> str:   # the fixed setting a row was spotted at
        row = first.loc[(method, threshold)]
        if threshold.startswith("nested"):
            return threshold
        if pd.notna(row.get("t")):
            return f"{threshold} ({row['t']:.2f})"
        sensitivity = row.get("sensitivity")
        return f"{threshold} (sensitivity {sensitivity:g})" if pd.notna(sensitivity) else threshold

    table["threshold"] = [setting(m, th) for m, th in zip(table["method"], table["threshold"])]
    return table


def ablation_compact(folder: str | os.PathLike | None, stem: str, *, published: str | None = None):
    """An ablation table (Tables 4-6, the fidelity ablation) for the README: the rows that were run,
    per type ``F1 [low, high]`` at the profile's t and the paired difference to the reference row
    (bold: resolved), and the published F1; None when the table has not been written."""
    import pandas as pd

    from .report import f1_text

    path = figures_dir(folder) / f"{stem}.csv"
    if not path.exists():
        return None
    df = pd.read_csv(path, index_col=0)
    out = pd.DataFrame(index=df.index)
    for label in ("ME", "MaE"):
        fixed = [c for c in df.columns if c.startswith(f"{label} F1 (t = ")]
        if not fixed:
            continue
        t = fixed[0][len(f"{label} F1 (t = "):-1]
        out[f"{label} F1 (t = {t})"] = [f1_text(*r) for r in df[[fixed[0], f"{label} F1 low", f"{label} F1 high"]].to_numpy()]
        reference = df.index[df[f"{label} diff (t = {t})"].isna() & df[fixed[0]].notna()]
        out[f"{label} diff to {reference[0] if len(reference) else 'the reference'}"] = [
            _diff_cell(*r) for r in df[[f"{label} diff (t = {t})", f"{label} diff low", f"{label} diff high"]].to_numpy()]
    if published and published in df.columns:
        out[published] = df[published].map(lambda x: "" if pd.isna(x) else f"{x:.4f}")
    run = df.filter(like=" F1 (t = ").notna().any(axis=1)
    out = out[run.to_numpy()]
    out.index.name = df.index.name
    return out.reset_index()


def verdict_sentence(folder: str | os.PathLike | None, stem: str) -> str | None:
    """One sentence from a notebook's verdict table (``06_verdict`` ...): the paper's claim and what this
    run says of it at each threshold choice; None when not written."""
    import pandas as pd

    path = figures_dir(folder) / f"{stem}.csv"
    if not path.exists():
        return None
    v = pd.read_csv(path)
    words = {"supports": "supports it", "contradicts": "contradicts it", "cannot tell": "cannot tell"}
    said = ", ".join(f"{words[r.verdict]} ({r.threshold})" for r in v.itertuples())
    return f"The paper: {v['claim'].iloc[0]}. This run {said}; the paired differences are in `figures/results.md`."


def event_counts(folder: str | os.PathLike | None = None) -> dict | None:
    """The benchmark's counts from notebook 00's ``00_event_counts.csv`` (videos, subjects, me, mae), or None."""
    import pandas as pd

    path = figures_dir(folder) / "00_event_counts.csv"
    if not path.exists():
        return None
    row = pd.read_csv(path).iloc[0]
    return {k: int(row[k]) for k in ("videos", "subjects", "me", "mae")}


def auc_markdown(folder: str | os.PathLike | None = None) -> str | None:
    """Notebook 05's per-type AUC table (``| method | ME | MaE |``, one row per scorer), or None."""
    import pandas as pd

    from .report import markdown_table

    path = figures_dir(folder) / "05_auc.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    table = table[[c for c in ("method", "me", "mae") if c in table.columns]].rename(columns={"me": "ME", "mae": "MaE"})
    return markdown_table(table, False, ".3f")


def odd_numbers(folder: str | os.PathLike | None, profile: Profile) -> list[str]:
    """One line of reason for each number of the README block that looks wrong at first sight: an
    AUC at or below chance, an overall F1 that falls with the nested t while both types' F1 rise, and
    the trained methods' unequal step budgets."""
    import pandas as pd

    from .models import display_name

    folder = figures_dir(folder)
    lines = []
    auc_path = folder / "05_auc.csv"
    if auc_path.exists():
        auc = pd.read_csv(auc_path).set_index("method")
        # the trained methods and the notebook that draws their held-out loss; the rest are training-free
        trained = {display_name(profile.model.name): "04", "SOFTNet": "05"}
        for method, row in auc.iterrows():
            for e in ("me", "mae"):
                if e in row and row[e] <= 0.5:
                    start = f"{method}'s held-out {e.upper() if e == 'me' else 'MaE'} AUC of {row[e]:.3f} is at or below chance: "
                    lines.append(start + (f"it did not learn that type at this budget (notebook {trained[method]}'s held-out "
                                          "loss curves show it)." if method in trained else
                                          "it is not trained, and its score does not tell that type's motion from the rest "
                                          "of the videos' motion (head movement, blinks, the other type)."))
    path = folder / "05_megc2021.csv"
    if path.exists():
        df = pd.read_csv(path)
        df = df[df["matching"] == profile.spot.mode]
        for method, m in df.groupby("method", sort=False):
            f1 = m.set_index(["threshold", "type"])["F1"]
            fixed = next((th for th in m["threshold"].unique() if th != "nested LOSO t"), None)
            if fixed is None or ("nested LOSO t", "overall") not in f1.index:
                continue
            rise = all(f1[("nested LOSO t", e)] >= f1[(fixed, e)] for e in ("me", "mae"))
            if rise and f1[("nested LOSO t", "overall")] < f1[(fixed, "overall")]:
                fp = m.set_index(["threshold", "type"])["FP"]
                lines.append(f"{method}'s overall F1 falls with the nested t although both types' F1 rise: overall "
                             f"pools the two types' counts, and at its nested t it spots {int(fp[('nested LOSO t', 'me')])} "
                             f"ME false positives ({int(fp[(fixed, 'me')])} at its {fixed}), which weigh on the pooled "
                             "precision more than they do on the ME F1 alone.")
    if profile.softnet.recipe == profile.train.recipe == "adamw" and profile.softnet.steps != profile.train.steps:
        lines.append(f"{display_name(profile.model.name)} trains {profile.train.steps:,} optimiser steps per fold and "
                     f"SOFTNet {profile.softnet.steps:,}: a SOFTNet step costs about 1/21 of an SL-Swin-T step on a CPU, "
                     "so both get about the same compute (`config.SOFTNET_STEPS`).")
    return lines


#: the ablation tables of the README block: (stem, heading, published column, verdict stem)
README_TABLES = (
    ("06_table4_architecture", "Table 4: architecture", "published F1 (CAS(ME)^2 ME)", "06_verdict"),
    ("07_table5_labels", "Table 5: pseudo vs original labels", "published F1 (CAS(ME)^2 ME)", "07_verdict"),
    ("08_table6_feature_size", "Table 6: 42 x 42 vs 84 x 84 inputs", None, "08_verdict"),
    ("07_fidelity_ablation", "The authors' code vs the paper's text, one difference at a time", None, None),
)


def results_block(folder: str | os.PathLike | None = None, *, profile: str = "quick") -> str:
    """The README's results block: Table 2 (F1 with intervals and the paired differences to the
    profile's model), the reasons for the numbers that look wrong, the per-type AUC, and Tables 4-6 in
    compact form, each with the verdict on the paper's claim; the wide tables are in ``results.md``."""
    from .config import get_profile
    from .published import SOFTNET_F1, published_f1
    from .report import markdown_table

    folder = figures_dir(folder)
    prof = get_profile(profile)
    paper, softnet = published_f1("casme2"), SOFTNET_F1["casme2"]
    counts = event_counts(folder)
    data = (f"synthetic benchmark of {counts['me']} ME and {counts['mae']} MaE events in {counts['videos']} videos of "
            f"{counts['subjects']} subjects" if counts else "synthetic benchmark")
    block = [f"Profile `{profile}`, {data}: these numbers test the pipeline, they do not re-measure the paper. Every "
             "table in full, with counts and every paired difference: `figures/results.md`.", ""]
    table2 = table2_compact(folder, matching=prof.spot.mode)
    if table2 is not None:
        import pandas as pd

        units = pd.read_csv(folder / "05_megc2021.csv")["units"].iloc[0] if "units" in pd.read_csv(
            folder / "05_megc2021.csv").columns else "videos"
        block += [f"**Table 2, MEGC 2021 LOSO** ({prof.spot.mode} matching; F1 [95 % interval], intervals and paired "
                  f"differences over {units}; bold: a difference whose interval excludes 0). Published on CAS(ME)^2: "
                  f"SL-Swin-T ME {paper['me']:.4f}, MaE {paper['mae']:.4f}, overall {paper['overall']:.4f}; SOFTNet "
                  f"{softnet['me']:.4f}, {softnet['mae']:.4f}, {softnet['overall']:.4f}.", "",
                  markdown_table(table2, False, ".4f"), ""]
    odd = odd_numbers(folder, prof)
    if odd:
        block += [*(f"- {line}" for line in odd), ""]
    auc = auc_markdown(folder)
    if auc is not None:
        block += ["Held-out per-frame ROC-AUC against the pseudo labels (0.5 is chance):", "", auc, ""]
    for stem, heading, published, verdict_stem in README_TABLES:
        table = ablation_compact(folder, stem, published=published)
        if table is None:
            continue
        block += [f"**{heading}**", "", markdown_table(table, False, ".4f"), ""]
        sentence = verdict_sentence(folder, verdict_stem) if verdict_stem else None
        if sentence:
            block += [sentence, ""]
    return "\n".join(block).rstrip() + "\n"
