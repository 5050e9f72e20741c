"""Feature-extraction speed and accuracy: the straightforward path vs ours.

(a) straightforward: for every pair (i, i+k) detect landmarks on frame i and frame i+k, crop
    both, a new OpenCV TV-L1 with default parameters, strain and preprocessing, one process;
(b) ours: landmarks once per frame, pairs in chunks over all cores (``extract_features``),
    with the paper's TV-L1 (must equal (a) to float tolerance) and with faster flow settings.

Accuracy of each flow setting: mean end-point error (crop pixels) against the synthetic
benchmark's true displacements (both frames cropped with frame i's box, truth mapped into the
crop). Run::

    .venv/bin/python benchmarks/bench_features.py --frames 48 --k 6

The batched torch TV-L1 (``flow="tvl1_torch"``) against OpenCV's, side by side::

    .venv/bin/python benchmarks/bench_features.py --tvl1-torch --agreement-pairs 24 \
        --batches 1,4,16,64,256 [--compile] [--device cuda --dtypes float32,bfloat16]

prints (1) agreement: mean EPE of both against the synthetic benchmark's true displacements
(mean over pairs; the bound is |difference| <= 0.01 px) and the mean per-pixel |flow difference|
on those pairs and on Pexels pairs; (2) speed: pairs/s of OpenCV's TV-L1 (one process, OpenCV's
threads) and of the torch TV-L1 per batch size (eager and ``torch.compile``), with the hours the
four MEGC 2021 sets would take at each rate.
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


def synthetic_pairs(n_pairs=6, k=6, profile="smoke"):
    """``[(crop_i, crop_i+k, true flow in crop pixels)]`` from the synthetic benchmark's videos.

    Per video: pairs at the strongest true motion (the expression apexes), then evenly spaced
    ones; videos in turn until ``n_pairs``.
    """
    import cv2

    from slswin_lib.data import load_dataset
    from slswin_lib.data.synthetic import true_displacement
    from slswin_lib.features.crop import crop_face, crop_transform, face_box
    from slswin_lib.features.landmarks import FaceLandmarker

    ds = load_dataset("synthetic", profile=profile)
    per_video = -(-n_pairs // len(ds.videos))
    todo = []
    for video in ds.videos:
        starts = [max(e.apex - k, 0) for e in video.events][:per_video]
        starts += list(np.linspace(0, video.n_frames - k - 1, per_video - len(starts)).astype(int))
        todo += [(video, int(i)) for i in starts]
    pairs = []
    with FaceLandmarker() as lm:
        for video, i in todo[:n_pairs]:
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
    return pairs


#: EPE is measured away from the crop border (8 px), where both frames see the face
INNER = (slice(8, -8), slice(8, -8))


def flow_epe(settings, n_pairs=6, k=6):
    """EPE of each flow setting on synthetic pairs (needs slswin_lib.data.synthetic)."""
    from slswin_lib.features.flow import FlowComputer, end_point_error

    pairs = synthetic_pairs(n_pairs, k)
    inner = INNER
    zero = np.mean([end_point_error(np.zeros_like(t), t, inner) for *_, t in pairs])
    out = {"zero flow": zero}
    for name, (method, params) in settings.items():
        fc = FlowComputer(method, params)
        out[name] = float(np.mean([end_point_error(fc(a, b), t, inner) for a, b, t in pairs]))
    return out


#: frame pairs of the four MEGC 2021 sets (CAS(ME)^2 ME, MaE; SAMM-LV ME, MaE), for projections
MEGC2021_PAIRS = {"CAS(ME)^2 ME": 80_463, "CAS(ME)^2 MaE": 231_999, "SAMM-LV ME": 310_682,
                  "SAMM-LV MaE": 438_311}
#: the agreement bound: |EPE(tvl1_torch) - EPE(OpenCV)| in pixels, mean over pairs
EPE_BOUND = 0.01


def projected_hours(pairs_per_s: float) -> str:
    total = sum(MEGC2021_PAIRS.values())
    return f"{total / pairs_per_s / 3600:8.2f} h for the {total:,} MEGC 2021 pairs"


def agreement(syn_pairs, pexels_crops, k, device="cpu", dtypes=("float32",)):
    """EPE of OpenCV's and the torch TV-L1 on synthetic pairs, and their flow difference.

    Returns ``{dtype: bool}``: whether the dtype keeps :data:`EPE_BOUND`.
    """
    import torch

    from slswin_lib.features.flow import FlowComputer, end_point_error
    from slswin_lib.features.tvl1_torch import TorchTVL1

    cv = FlowComputer("tvl1")
    a = np.stack([p[0] for p in syn_pairs])
    b = np.stack([p[1] for p in syn_pairs])
    ref = np.stack([cv(x, y) for x, y in zip(a, b)])
    pex_a, pex_b = pexels_crops[:-k], pexels_crops[k:]
    pex_ref = np.stack([cv(x, y) for x, y in zip(pex_a, pex_b)])
    epe_cv = np.mean([end_point_error(f, t, INNER) for f, (*_, t) in zip(ref, syn_pairs)])
    zero = np.mean([end_point_error(np.zeros_like(t), t, INNER) for *_, t in syn_pairs])
    print(f"\nagreement on {len(syn_pairs)} synthetic pairs (true displacement, 128 px crops, "
          f"{INNER[0].start} px border left out) and {len(pex_a)} Pexels pairs (k={k})")
    print(f"  EPE zero flow {zero:.4f} px   EPE OpenCV TV-L1 {epe_cv:.4f} px")
    keeps = {}
    for name in dtypes:
        ours = TorchTVL1(device=device, batch=64, dtype=getattr(torch, name))
        flow = ours(a, b)
        epe = np.mean([end_point_error(f, t, INNER) for f, (*_, t) in zip(flow, syn_pairs)])
        pex = ours(pex_a, pex_b)
        keeps[name] = abs(epe - epe_cv) <= EPE_BOUND
        print(f"  tvl1_torch {device} {name:8s}: EPE {epe:.4f} px (vs OpenCV {epe - epe_cv:+.4f}, bound "
              f"{EPE_BOUND}: {'holds' if keeps[name] else 'FAILS'});  mean |flow - OpenCV| synthetic "
              f"{np.abs(flow - ref).mean():.4f} px, Pexels {np.abs(pex - pex_ref).mean():.4f} px")
    return keeps


def speed(crops, k, batches, device="cpu", dtypes=("float32",), compile_modes=(False,)):
    """Pairs/s of OpenCV's TV-L1 and of the torch TV-L1 per batch size, side by side."""
    import torch

    from slswin_lib.features.flow import FlowComputer
    from slswin_lib.features.tvl1_torch import TorchTVL1

    prev, nxt = crops[:-k], crops[k:]

    def stack(n):  # n pairs, cycling through the clip's pairs
        idx = np.arange(n) % len(prev)
        return prev[idx], nxt[idx]

    cv = FlowComputer("tvl1")
    n_cv = min(len(prev), 16)
    start = time.perf_counter()
    for x, y in zip(*stack(n_cv)):
        cv(x, y)
    rate_cv = n_cv / (time.perf_counter() - start)
    import cv2

    print(f"\nspeed, {crops.shape[1]} x {crops.shape[2]} Pexels crops, {torch.get_num_threads()} torch "
          f"threads, {cv2.getNumThreads()} OpenCV threads")
    print(f"  OpenCV TV-L1 (1 process)          {rate_cv:9.2f} pairs/s  x 1.00   {projected_hours(rate_cv)}")
    for name in dtypes:
        for comp in compile_modes:
            ours = TorchTVL1(device=device, batch=max(batches), dtype=getattr(torch, name), compile=comp)
            if comp:   # compile once outside the timing (one batch of each size)
                for n in batches:
                    ours(*stack(n))
            for n in batches:
                a, b = stack(n)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                start = time.perf_counter()
                ours(a, b)
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                rate = n / (time.perf_counter() - start)
                label = f"tvl1_torch {device} {name} {'compiled' if comp else 'eager'} b={n}"
                print(f"  {label:34s}{rate:9.2f} pairs/s  x{rate / rate_cv:5.2f}   {projected_hours(rate)}",
                      flush=True)


def pexels_crops(frames, size=128):
    """Grayscale face crops ``(n, size, size)`` uint8 of the clip (landmarks on every frame)."""
    from slswin_lib.config import FeatureConfig
    from slswin_lib.features.extract import ArrayVideo, track_face

    return track_face(ArrayVideo("bench", frames), FeatureConfig(face_size=size)).crops


def main_torch(args) -> None:
    """The ``--tvl1-torch`` run: agreement, then speed."""
    import cv2
    import torch

    from slswin_lib.features.tvl1_torch import check_device

    check_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    crops = pexels_crops(read_pexels(args.frames))
    dtypes = args.dtypes.split(",")
    keeps = {"float32": True}
    if args.agreement_pairs:
        keeps = agreement(synthetic_pairs(args.agreement_pairs, args.k), crops, args.k, args.device, dtypes)
    batches = [int(b) for b in args.batches.split(",")]
    speed(crops, args.k, batches, args.device, [d for d in dtypes if keeps.get(d, True)],
          (False, True) if args.compile else (False,))


def main(argv=None) -> None:
    from slswin_lib.config import FeatureConfig, get_profile

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=48)
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--workers", type=int, default=0, help="0: all cores")
    p.add_argument("--no-epe", action="store_true")
    p.add_argument("--tvl1-torch", action="store_true",
                   help="compare OpenCV's TV-L1 with tvl1_torch (agreement and speed) instead")
    p.add_argument("--agreement-pairs", type=int, default=24, help="synthetic pairs (0: skip)")
    p.add_argument("--batches", default="1,4,16,64,256", help="tvl1_torch batch sizes")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtypes", default="float32", help="e.g. float32,bfloat16 (bfloat16: timed only "
                   "when it keeps the EPE bound)")
    p.add_argument("--compile", action="store_true", help="also time torch.compile")
    p.add_argument("--threads", type=int, default=0, help="torch and OpenCV threads (0: their defaults)")
    args = p.parse_args(argv)
    if args.tvl1_torch:
        main_torch(args)
        return
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
