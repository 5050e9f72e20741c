"""Tables and figures about the models for notebook 03 (sizes, FLOPs, token grids, LSA maps)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import numpy as np
import pandas as pd
import torch

from ..io import atomic_path, atomic_write_text
from . import TABLE4, attention_maps, count_flops, count_params, create_model, model_input_size, model_kwargs

__all__ = ["size_table", "token_grid_table", "markdown_table", "write_table", "lsa_attention_figure"]


def size_table(sizes: Iterable[int] = (42, 84), cache: Optional[Path] = None,
               model_cfg: Optional[Any] = None) -> pd.DataFrame:
    """Parameters and forward GFLOPs per sample of every Table 4 model at each input size.

    Columns: model (Table 4 name), name (registered), vit_variant, input, spt, lsa, params_M, gflops,
    params_vs_vit, flops_vs_vit (ratios to ViT-B at the same input size), token_grids.
    ``model_cfg``: a :class:`~slswin_lib.config.ModelConfig` whose settings build the models
    (:func:`~slswin_lib.models.model_kwargs`, e.g. the authors' ViT-B); None: timm's ViT-B.
    With ``cache`` (a .csv path), a table computed before for the same sizes and ViT variant is
    loaded instead.
    """
    sizes = tuple(sizes)
    variant = "timm" if model_cfg is None else model_cfg.vit_variant
    if cache is not None and Path(cache).exists():
        df = pd.read_csv(cache)
        if (tuple(sorted(df["input"].unique())) == tuple(sorted(sizes)) and "vit_variant" in df
                and set(df["vit_variant"]) == {variant}):
            return df
    rows = []
    for size in sizes:
        for label, prefix in TABLE4.items():
            name = f"{prefix}_{size}"
            kwargs = {} if model_cfg is None else model_kwargs(name, model_cfg)
            model = create_model(name, device="meta", **kwargs)  # shapes only: no memory, no initialisation
            rows.append(dict(model=label, name=name, vit_variant=variant, input=model_input_size(name),
                             spt=model.spt, lsa=model.lsa,
                             params_M=count_params(model) / 1e6, gflops=count_flops(model) / 1e9,
                             token_grids=" -> ".join(f"{g['grid'][0]}x{g['grid'][1]}" for g in model.token_grids())))
            del model
    df = pd.DataFrame(rows)
    vit = df[df["model"] == "ViT-B"].set_index("input")
    df["params_vs_vit"] = df["params_M"] / df["input"].map(vit["params_M"])
    df["flops_vs_vit"] = df["gflops"] / df["input"].map(vit["gflops"])
    if cache is not None:
        with atomic_path(cache) as tmp:
            df.to_csv(tmp, index=False)
    return df


def token_grid_table(name: str = "sl_swin_tiny_patch6_window7_42") -> pd.DataFrame:
    """Per stage of a model: token grid, channels, heads, window, shift and padded grid."""
    df = pd.DataFrame(create_model(name).token_grids())
    for col in ("grid", "window", "shift", "padded_grid"):
        df[col] = df[col].map(lambda t: f"{t[0]}x{t[1]}")
    return df


def markdown_table(df: pd.DataFrame, floatfmt: str = "{:.3f}") -> str:
    """A GitHub-flavoured markdown table (no extra dependency)."""
    def fmt(v):
        return floatfmt.format(v) if isinstance(v, (float, np.floating)) else str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(df: pd.DataFrame, stem: Path) -> tuple[Path, Path]:
    """Write ``stem``.csv and ``stem``.md atomically; returns both paths."""
    stem = Path(stem)
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    with atomic_path(csv) as tmp:
        df.to_csv(tmp, index=False)
    atomic_write_text(md, markdown_table(df))
    return csv, md


def _example_input(size: int = 42, seed: int = 0) -> torch.Tensor:
    """A smooth (1, 3, size, size) pattern in [0, 1] (stands in for a flow/strain mosaic)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, 7, 7, generator=g)
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False).clamp(0, 1)


def lsa_attention_figure(path: Optional[Path] = None, stage: int = 0, block: int = 0, window: int = 0,
                         query: int = 24, x: Optional[torch.Tensor] = None, seed: int = 0):
    """Attention of one window without and with LSA, for the same weights.

    Builds Swin-T and copies its weights into L-Swin-T (whose temperatures start at the standard
    scaling), so the two differ only by LSA: the diagonal is removed and the rest renormalised.
    Plots, per model, head 0's 49 x 49 map of the window and the 7 x 7 map of one query token.

    Returns:
        (figure, dict with the two (nH, 49, 49) weight arrays under "swin" and "l_swin").
    """
    import matplotlib.pyplot as plt

    torch.manual_seed(seed)
    plain = create_model("swin_tiny_patch6_window7_42")
    lsa = create_model("l_swin_tiny_patch6_window7_42")
    lsa.load_state_dict(plain.state_dict(), strict=False)  # only the temperatures stay at init
    x = _example_input() if x is None else x
    maps = {key: attention_maps(m, x, stage=stage, block=block)[0, window].numpy()
            for key, m in (("swin", plain), ("l_swin", lsa))}
    fig, axes = plt.subplots(2, 2, figsize=(8.5, 8))
    for row, (key, title) in enumerate((("swin", "Swin-T (standard attention)"), ("l_swin", "L-Swin-T (LSA)"))):
        w = maps[key][0]
        vmax = maps["swin"][0].max()
        im = axes[row, 0].imshow(w, cmap="viridis", vmin=0, vmax=vmax)
        axes[row, 0].set_title(f"{title}\nstage {stage + 1}, block {block + 1}, window {window}, head 1")
        axes[row, 0].set_xlabel("key token")
        axes[row, 0].set_ylabel("query token")
        fig.colorbar(im, ax=axes[row, 0], fraction=0.046)
        im = axes[row, 1].imshow(w[query].reshape(7, 7), cmap="viridis", vmin=0)
        r, c = divmod(query, 7)
        axes[row, 1].plot(c, r, "r+", ms=14, mew=2)
        axes[row, 1].set_title(f"weights of query token {query} (+) over the 7 x 7 window\n"
                               f"self weight = {w[query, query]:.4f}")
        fig.colorbar(im, ax=axes[row, 1], fraction=0.046)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=120)
    return fig, maps
