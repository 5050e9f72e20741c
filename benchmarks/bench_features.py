"""Feature-extraction speed and accuracy: the straightforward path vs ours (issue 4, item 5).

(a) straightforward: for every pair (i, i+k) detect landmarks on frame i and frame i+k, crop
    both, a new OpenCV TV-L1 with default parameters, strain and preprocessing, one process;
(b) ours: landmarks once per frame, pairs in chunks over all cores (``extract_features``),
    with the paper's TV-L1 (must equal (a) to float tolerance) and with faster flow settings.

Accuracy of each flow setting: mean end-point error (crop pixels) against the synthetic
benchmark's true displacements (both frames cropped with frame i's box, truth mapped into the
crop). Run::

    .venv/bin/python benchmarks/bench_features.py --frames 48 --k 6
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def read_pexels(n: int) -> list[np.ndarray]:
    import cv2

    from slswin_lib.assets import asset_path

    cap = cv2.VideoCapture(str(asset_path("pexels_video")))
    frames = []
    while len(frames) < n:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    return frames


def straightforward(frames, k, cfg):
    """Path (a); returns features and seconds per stage."""
    import cv2

    from slswin_lib.features.crop import crop_face, face_box, to_crop_coords
    from slswin_lib.features.flow import optical_strain
    from slswin_lib.features.landmarks import FaceLandmarker, to_dlib68
    from slswin_lib.features.preprocess import config_sizes, preprocess_sample

    sizes = config_sizes(cfg)
    t = dict(landmarks=0.0, flow=0.0, preprocess=0.0)
    out = []
    with FaceLandmarker() as lm:
        for i in range(len(frames) - k):
            s = time.perf_counter()
            crops, pts = [], None
            for j in (i, i + k):
                mesh = lm.detect(frames[j])
                box = face_box(mesh[:468], cfg.crop_margin)
                crops.append(crop_face(frames[j], box, cfg.face_size))
                if j == i:
                    pts = to_crop_coords(to_dlib68(mesh), box, cfg.face_size)
            t["landmarks"] += time.perf_counter() - s
            s = time.perf_counter()
            flow = cv2.optflow.DualTVL1OpticalFlow_create().calc(crops[0], crops[1], None)
            raw = np.dstack([flow, optical_strain(flow[..., 0], flow[..., 1])])
            t["flow"] += time.perf_counter() - s
            s = time.perf_counter()
            out.append(preprocess_sample(raw, pts, sizes, abs_uv=cfg.abs_uv, layout=cfg.roi_layout))
            t["preprocess"] += time.perf_counter() - s
    return np.stack(out), t


def ours(frames, k, cfg, workers):
    from slswin_lib.features.extract import ArrayVideo, extract_features

    video = ArrayVideo("bench", frames, fps=24)
    with tempfile.TemporaryDirectory() as tmp:
        s = time.perf_counter()
        feats = extract_features([video], k, cfg, cache_root=tmp, workers=workers, progress=False)
        return feats["bench"], time.perf_counter() - s


def stage_rates(frames, k, cfg):
    """Single-process seconds of stage A (landmarks + crop) and stage B (flow + preprocessing)."""
    from slswin_lib.features.extract import ArrayVideo, pair_features, track_face

    s = time.perf_counter()
    track = track_face(ArrayVideo("bench", frames), cfg)
    a = time.perf_counter() - s
    s = time.perf_counter()
    pair_features(track.crops, track.pts68, k, cfg)
    return a, time.perf_counter() - s


#: a faster TV-L1: 3 pyramid scales, 3 warps, epsilon 0.05 (OpenCV: 5, 5, 0.01)
FAST_TVL1 = (("scales", 3), ("warps", 3), ("epsilon", 0.05))


def flow_epe(settings, n_pairs=6, k=6):
    """EPE of each flow setting on synthetic pairs (needs slswin_lib.data.synthetic)."""
    import cv2

    from slswin_lib.data import load_dataset
    from slswin_lib.data.synthetic import true_displacement
    from slswin_lib.features.crop import crop_face, crop_transform, face_box
    from slswin_lib.features.flow import FlowComputer, end_point_error
    from slswin_lib.features.landmarks import FaceLandmarker

    ds = load_dataset("synthetic", profile="smoke")
    video = ds.videos[0]
    # pairs at the strongest true motion (the expression apexes), evenly over the video otherwise
    starts = [max(e.apex - k, 0) for e in video.events][:n_pairs]
    starts += list(np.linspace(0, video.n_frames - k - 1, n_pairs - len(starts)).astype(int))
    pairs = []
    with FaceLandmarker() as lm:
        for i in starts:
            fi, fj = video.frame(int(i)), video.frame(int(i) + k)
            box = face_box(lm.detect(fi)[:468])
            a = crop_face(fi, box, 128)
            b = crop_face(fj, box, 128)
            full = true_displacement(video, int(i), int(i) + k)
            m = cv2.invertAffineTransform(crop_transform(box, 128))
            gy, gx = np.mgrid[0:128, 0:128].astype(np.float32)
            mx = (m[0, 0] * gx + m[0, 2]).astype(np.float32)
            my = (m[1, 1] * gy + m[1, 2]).astype(np.float32)
            truth = cv2.remap(full, mx, my, cv2.INTER_LINEAR) * (128 / box[2])
            pairs.append((a, b, truth))
    inner = (slice(8, -8), slice(8, -8))
    zero = np.mean([end_point_error(np.zeros_like(t), t, inner) for *_, t in pairs])
    out = {"zero flow": zero}
    for name, (method, params) in settings.items():
        fc = FlowComputer(method, params)
        out[name] = float(np.mean([end_point_error(fc(a, b), t, inner) for a, b, t in pairs]))
    return out


def main(argv=None) -> None:
    from slswin_lib.config import FeatureConfig, get_profile

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--workers", type=int, default=0, help="0: all cores")
    p.add_argument("--no-epe", action="store_true")
    args = p.parse_args(argv)
    workers = args.workers or os.cpu_count()
    frames = read_pexels(args.frames)
    k, n_pairs = args.k, len(frames) - args.k
    paper = FeatureConfig()
    fast_tvl1 = FeatureConfig(flow="tvl1", flow_params=FAST_TVL1)
    quick = get_profile("quick").features   # the quick profile's flow (DIS)
    print(f"{len(frames)} Pexels frames, k={k}: {n_pairs} pairs, {workers} workers")

    feats_a, t_a = straightforward(frames, k, paper)
    total_a = sum(t_a.values())
    rate_a = n_pairs / total_a
    print(f"(a) straightforward      {rate_a:7.2f} frames/s  " +
          "  ".join(f"{s} {n_pairs / v:.1f}/s" for s, v in t_a.items()))
    rows = {}
    for name, cfg in (("(b) ours, paper TV-L1", paper), ("(b) ours, fast TV-L1", fast_tvl1),
                      (f"(b) ours, quick ({quick.flow})", quick)):
        feats, secs = ours(frames, k, cfg, workers)
        a_s, b_s = stage_rates(frames, k, cfg)
        rows[name] = n_pairs / secs
        extra = ""
        if cfg is paper:
            diff = float(np.abs(feats - feats_a).max())
            extra = f"  max |(b)-(a)| = {diff:.2e}"
        print(f"{name:24s} {n_pairs / secs:7.2f} frames/s  x{n_pairs / secs / rate_a:5.2f} vs (a)"
              f"  [1 core: landmarks+crop {len(frames) / a_s:.1f}/s, flow+preprocess "
              f"{n_pairs / b_s:.1f}/s]{extra}")
    if not args.no_epe:
        settings = {"paper TV-L1": ("tvl1", {}), "fast TV-L1": ("tvl1", dict(FAST_TVL1)),
                    "DIS medium": ("dis", {}), "Farneback": ("farneback", {})}
        for name, epe in flow_epe(settings).items():
            print(f"EPE {name:12s} {epe:.3f} px (128 px crop)")


if __name__ == "__main__":
    main()
