"""Figures of the feature pipeline (notebooks 01 and 02). Each returns a matplotlib Figure."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .landmarks import DLIB68, NOSE_POINT, to_dlib68

__all__ = ["plot_landmarks", "plot_flow_pair", "plot_preprocessing", "plot_roi_magnitude"]

_REGION_COLOURS = {"jaw": "tab:gray", "left_brow": "tab:orange", "right_brow": "tab:orange",
                   "nose_bridge": "tab:red", "nostrils": "tab:red", "left_eye": "tab:blue",
                   "right_eye": "tab:blue", "outer_lips": "tab:green", "inner_lips": "tab:olive"}


def plot_landmarks(frame: np.ndarray, mesh: np.ndarray, *, pad: int = 20):
    """The 478-point mesh (grey) and its dlib-68 subset (numbered, coloured by region)."""
    import matplotlib.pyplot as plt

    pts = to_dlib68(mesh)
    x0, y0 = np.maximum(mesh.min(0).astype(int) - pad, 0)
    x1, y1 = mesh.max(0).astype(int) + pad
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.5))
    axes[0].imshow(frame)
    axes[0].scatter(mesh[:, 0], mesh[:, 1], s=1, c="w")
    axes[0].set_title(f"MediaPipe mesh ({len(mesh)} points)")
    ax = axes[1]
    ax.imshow(frame[y0:y1, x0:x1], extent=(x0, x1, y1, y0))
    ax.scatter(mesh[:, 0], mesh[:, 1], s=1, c="0.8", alpha=0.5)
    for region, idx in DLIB68.items():
        if region == "mouth":
            continue
        ax.scatter(pts[idx, 0], pts[idx, 1], s=14, c=_REGION_COLOURS[region], label=region)
    for i, (x, y) in enumerate(pts):
        ax.annotate(str(i), (x, y), fontsize=6, color="yellow" if i != NOSE_POINT else "red",
                    xytext=(2, 2), textcoords="offset points")
    ax.set_xlim(x0, x1)
    ax.set_ylim(y1, y0)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("mesh -> dlib-68 (red label: nose point 28)")
    for a in axes:
        a.axis("off")
    fig.tight_layout()
    return fig


def plot_flow_pair(crop_i: np.ndarray, crop_j: np.ndarray, raw: np.ndarray, title: str = ""):
    """Crops of frames i and i+k, colour-coded flow, and strain magnitude."""
    import matplotlib.pyplot as plt

    from .flow import flow_to_rgb

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    axes[0].imshow(crop_i, cmap="gray")
    axes[0].set_title("frame i")
    axes[1].imshow(crop_j, cmap="gray")
    axes[1].set_title("frame i + k")
    axes[2].imshow(flow_to_rgb(raw[..., :2]))
    axes[2].set_title("flow (hue: direction)")
    im = axes[3].imshow(raw[..., 2], cmap="magma")
    axes[3].set_title("strain |e|")
    fig.colorbar(im, ax=axes[3], fraction=0.046)
    for a in axes:
        a.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_preprocessing(raw: np.ndarray, pts68: np.ndarray, sizes, *, abs_uv: bool = False,
                       layout: str = "paper"):
    """Flow magnitude with the nose box, grown eye polygons and ROI boxes; the result after
    head-motion removal and eye masks; and the three channels of the ROI mosaic."""
    import matplotlib.patches as mpatches
    import matplotlib.pyplot as plt

    from .preprocess import (eye_polygons, mask_eyes, nose_box, remove_head_motion, roi_boxes,
                             roi_mosaic)

    size = raw.shape[0]
    rows, cols = nose_box(pts68, sizes.nose_half, size)
    x = remove_head_motion(raw, pts68, sizes.nose_half, abs_uv=abs_uv)
    mask_eyes(x, pts68, sizes.eye_grow)
    boxes = roi_boxes(pts68, sizes.margin, size, layout)
    mosaic = roi_mosaic(x, boxes, sizes.roi)
    fig, axes = plt.subplots(1, 5, figsize=(16, 3.6))
    axes[0].imshow(np.hypot(raw[..., 0], raw[..., 1]), cmap="viridis")
    axes[0].add_patch(mpatches.Rectangle((cols.start, rows.start), cols.stop - cols.start,
                                         rows.stop - rows.start, fill=False, ec="red"))
    for poly in eye_polygons(pts68, sizes.eye_grow):
        axes[0].add_patch(mpatches.Polygon(poly, fill=False, ec="cyan"))
    for (bx0, by0, bx1, by1) in boxes:
        axes[0].add_patch(mpatches.Rectangle((bx0, by0), bx1 - bx0, by1 - by0, fill=False,
                                             ec="yellow", ls="--"))
    axes[0].set_title("|flow|, nose box, eye masks, ROIs")
    axes[1].imshow(np.hypot(x[..., 0], x[..., 1]), cmap="viridis")
    axes[1].set_title("after head motion + eye masks")
    for c, name in enumerate(("u", "v", "|e|")):
        axes[2 + c].imshow(mosaic[..., c], cmap="RdBu_r" if c < 2 else "magma")
        axes[2 + c].set_title(f"ROI mosaic {mosaic.shape[0]}x{mosaic.shape[1]}: {name}")
    for a in axes:
        a.axis("off")
    fig.tight_layout()
    return fig


def plot_roi_magnitude(magnitude: np.ndarray, k: int, events: Sequence, *, title: str = ""):
    """Mean ROI flow magnitude per sample over time; ground-truth intervals shaded by type."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot(np.arange(len(magnitude)), magnitude, lw=1, c="k", label="mean ROI |flow| (pair i, i+k)")
    colours = {"me": "tab:red", "mae": "tab:blue"}
    seen = set()
    for e in events:
        label = None if e.type in seen else e.type.upper()
        seen.add(e.type)
        ax.axvspan(e.onset, e.offset, color=colours.get(e.type, "tab:gray"), alpha=0.25, label=label)
    ax.set_xlabel("frame i")
    ax.set_ylabel("pixels (128 px crop)")
    ax.set_title(title or f"k = {k}")
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig
