"""What a real run costs: memory, disk and time per stage at the size of CAS(ME)^2, SAMM-LV and MEGC 2022.

Each stage is measured briefly on one unit-level workload (a few seconds) and projected by the
number of units the real sets hold (their frame counts, k and ground-truth intervals, bundled in
``slswin_lib/reference/casme2`` and ``slswin_lib/reference/scale``):

* face tracking: frames/s (MediaPipe on the bundled Pexels clip), per distinct video frame;
* optical flow per method (and device): pairs/s, per frame pair of both expression types;
* ROI features: pairs/s (strain, head-motion removal, ROI mosaic);
* a training step of the paper recipe (SGD, batch 48) on streamed samples: samples/s, per
  training sample of every fold and epoch (25 epochs, LOSO; MEGC 2022: one model per type and
  source, trained on all of CAS(ME)^2 or SAMM-LV, counted with that set's LOSO runs);
* prediction: samples/s, per held-out sample;
* spotting + evaluation: seconds per set, measured at full size on random scores;
* the training-free optical-flow spotter (``slswin_lib.trainfree``, ``--stage ofspot`` alone): frames/s of
  its ROI flow and of its signal analysis (source settings) on the Pexels clip's face track, per
  *analysed* frame (every frame of a 30 fps set, every 7th of SAMM-LV's 200 fps), and the whole method
  (face tracking of every frame + ROI flow + analysis) per set, on one process and on 2 cores (videos in
  parallel);
* fold preparation: peak RSS of one full-size SAMM-LV MaE fold (its real features' size, random
  values, written in the feature cache's ``.npy`` format) prepared and trained for a few streamed
  steps, in a fresh process; and the feature cache's bytes on disk (per frame pair, checked
  against the written files).

Run (the table; about 7 minutes on 2 shared cores, ~3 of them writing the 9.3 GB of full-size
SAMM-LV MaE features to ``--scratch``, deleted afterwards unless ``--keep``, which a later run reuses)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py [--device cuda] [--scratch DIR] [--keep]

The optical-flow spotter's rows alone (about a minute)::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_scale.py --stage ofspot

One full-size SAMM-LV MaE fold's memory (a JSON line; ``peak_rss_bytes`` is above the process's
memory before the fold, ``sample_bytes`` what its samples take as float32 model input)::

    .venv/bin/python benchmarks/bench_scale.py --stage prepare --set samm_lv --expression mae --json
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = Path(__file__).resolve().parent.parent / "slswin_lib" / "reference"
SETS = ("casme2", "samm_lv", "megc2022")
SET_TITLES = {"casme2": "CAS(ME)^2", "samm_lv": "SAMM-LV", "megc2022": "MEGC 2022"}
#: paper recipe (Sec. 3.3)
EPOCHS, BATCH = 25, 48
#: unit-level workloads: frames tracked, pairs per flow method, training steps, predicted samples
TRACK_FRAMES, FLOW_PAIRS, SLOW_FLOW_PAIRS, TRAIN_STEPS, PREDICT_SAMPLES = 40, 24, 6, 4, 512
#: streamed steps of the full-size fold (after one warm-up step)
FOLD_STEPS = 3
#: frames written per chunk of a full-size feature file
WRITE_CHUNK = 2048
#: polling interval of the peak-RSS sampler (seconds)
RSS_POLL = 0.002
GiB = 2 ** 30
#: the rows a paper run spends its time in besides training and prediction (the flow row: per device)
TOTAL_ROWS = ("face tracking", "ROI features")
PAPER_FLOW = {"cpu": "optical flow tvl1 (cpu)", "cuda": "optical flow tvl1_torch (cuda, float32)"}
#: frames of the Pexels clip the optical-flow spotter is timed on (all of it: four windows), analysed as 30 fps
#: (the CAS(ME)^2 rate: every frame analysed, 200-frame windows)
OF_FRAMES, OF_FPS = 472, 30.0
#: frame rates of the sets' videos (MEGC 2022: per source)
SET_FPS = {"casme2": 30.0, "samm_lv": 200.0, "megc2022_cas": 30.0, "megc2022_samm": 200.0}
#: the optical-flow spotter's stage rows (unit: analysed frames)
OF_ROWS = ("optical-flow spotter: ROI flow", "optical-flow spotter: signal analysis")


# -- the real sets' sizes ----------------------------------------------------------------------
@dataclass
class SetSize:
    """One expression type of one set: its videos (key, subject, n_frames, k), k and ground truth."""

    name: str
    expression: str
    k: int
    videos: pd.DataFrame        # key, subject, n_frames
    gt: dict                    # key -> (G, 2) intervals (MEGC 2022's test videos: none)


def set_size(name: str, expression: str) -> SetSize:
    if name == "casme2":
        v = pd.read_csv(REFERENCE / "casme2" / f"videos_{expression}.csv", dtype={"video_code": str})
        g = pd.read_csv(REFERENCE / "casme2" / f"gt_{expression}.csv", dtype={"video_code": str})
        k = int(v["k"].iloc[0])
    elif name == "samm_lv":
        v = pd.read_csv(REFERENCE / "scale" / f"samm_lv_videos_{expression}.csv", dtype=str)
        g = pd.read_csv(REFERENCE / "scale" / f"samm_lv_gt_{expression}.csv", dtype=str)
        v["n_frames"], k = v["n_frames"].astype(int), int(v["k"].iloc[0])
        g[["onset", "offset"]] = g[["onset", "offset"]].astype(int)
    elif name == "megc2022":
        t = pd.read_csv(REFERENCE / "scale" / "megc2022_test_videos.csv", dtype=str)
        ks = t[f"k_{expression}"].astype(int)
        # two sources with their own k: every video keeps its own (units are summed over n_frames - k)
        v = pd.DataFrame({"subject": t["set"], "video_code": t["video"], "n_frames": t["n_frames"].astype(int),
                          "k": ks})
        v["key"] = v["subject"] + "_" + v["video_code"]
        return SetSize(name, expression, int(ks.max()), v[["key", "subject", "n_frames", "k"]], {})
    else:
        raise ValueError(f"unknown set {name!r}; choose from {SETS}")
    v["key"] = v["subject"].astype(str) + "_" + v["video_code"].astype(str)
    v["k"] = k
    g["key"] = g["subject"].astype(str) + "_" + g["video_code"].astype(str)
    gt = {key: grp[["onset", "offset"]].to_numpy(int) for key, grp in g.groupby("key")}
    return SetSize(name, expression, k, v[["key", "subject", "n_frames", "k"]].reset_index(drop=True), gt)


def kept_per_video(s: SetSize, cfg) -> np.ndarray:
    """Training samples each video contributes to a fold it trains in (paper sampling, ME copies)."""
    from slswin_lib.training.labels import make_labels

    out = []
    for row in s.videos.itertuples():
        lab = make_labels(row.n_frames - row.k, row.k, s.gt.get(row.key, np.zeros((0, 2), int)), cfg.labelling,
                          cfg.pseudo_window)
        pos = int((lab > 0).sum())
        neg = len(lab) - pos
        kept = len(lab) if neg <= pos or cfg.keep_negatives >= 1 else pos + int(neg * cfg.keep_negatives)
        out.append(kept + (3 * pos if cfg.augment and s.expression == "me" else 0))
    return np.array(out)


def units(name: str, cfg) -> dict:
    """Units of every stage in set ``name`` (both expression types)."""
    sizes = [set_size(name, e) for e in ("me", "mae")]
    frames = pd.concat([s.videos for s in sizes]).drop_duplicates("key")["n_frames"].sum()
    pairs = sum(int((s.videos["n_frames"] - s.videos["k"]).sum()) for s in sizes)
    train = 0
    if name != "megc2022":
        for s in sizes:
            kept = kept_per_video(s, cfg)
            total = kept.sum()
            per_subject = pd.Series(kept).groupby(s.videos["subject"].to_numpy()).sum()
            loso = int(sum(total - held for held in per_subject))          # every fold trains on the others
            train += EPOCHS * (loso + int(total))                          # + the MEGC 2022 model on all of it
    videos = pd.concat([s.videos for s in sizes]).drop_duplicates("key")
    fps = videos["subject"].map(SET_FPS).fillna(SET_FPS.get(name, 30.0)) if name == "megc2022" else SET_FPS[name]
    stride = np.maximum(1, np.round(np.asarray(fps, dtype=float) / OF_FPS)).astype(int)
    analysed = int(np.sum(-(-videos["n_frames"].to_numpy() // stride)))
    return {"frames": int(frames), "pairs": pairs, "train": train, "predict": pairs, "sets": 1,
            "of_frames": analysed}


# -- measuring ---------------------------------------------------------------------------------
def rss() -> tuple[int, int]:
    """This process's (resident, anonymous resident) bytes, from /proc/self/status."""
    fields = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "RssAnon:")):
                key, value, _ = line.split()
                fields[key] = int(value) * 1024
    return fields["VmRSS:"], fields["RssAnon:"]


class PeakRSS:
    """Peak resident bytes while the block runs (a sampling thread; ``peak``, ``peak_anon``)."""

    def __enter__(self):
        self.base, self.base_anon = rss()
        self.peak, self.peak_anon = self.base, self.base_anon
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(RSS_POLL):
            r, a = rss()
            self.peak, self.peak_anon = max(self.peak, r), max(self.peak_anon, a)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        r, a = rss()
        self.peak, self.peak_anon = max(self.peak, r), max(self.peak_anon, a)


def timed(fn, n_units: int) -> tuple[float, int]:
    """(units/s, peak RSS bytes) of ``fn()`` processing ``n_units``."""
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
    return n_units / dt, mem.peak


def pexels_track(cfg, n: int):
    from bench_features import read_pexels  # this folder's flow benchmark: the sample video's first n frames

    from slswin_lib.features.extract import ArrayVideo, track_face

    frames = read_pexels(n)
    video = ArrayVideo("pexels", frames)
    track_face(video, cfg)          # warm-up: the landmarker's model load
    out = {}
    rate, peak = timed(lambda: out.setdefault("track", track_face(video, cfg)), len(frames))
    return out["track"], rate, peak


def measure_extraction(cfg, device: str, rows: list) -> None:
    import dataclasses

    from slswin_lib.config import FLOWS
    from slswin_lib.features.extract import flow_features, pair_flows

    track, rate, peak = pexels_track(cfg, TRACK_FRAMES)
    rows.append(("face tracking", "frames", rate, peak))
    k = 1
    flows = None
    for method in FLOWS:
        fcfg = dataclasses.replace(cfg, flow=method)
        n = SLOW_FLOW_PAIRS if method.startswith("tvl1") else FLOW_PAIRS
        crops = track.crops[:n + k]
        pair_flows(crops[:2], k, fcfg)                               # warm-up
        out = {}
        rate, peak = timed(lambda: out.setdefault("f", pair_flows(crops, k, fcfg)), n)
        rows.append((f"optical flow {method} (cpu)", "pairs", rate, peak))
        if method == cfg.flow:
            flows = out["f"]
    if device.startswith("cuda"):
        import torch

        from slswin_lib.features.tvl1_torch import TorchTVL1

        crops = track.crops[:FLOW_PAIRS + k]
        for dtype in ("float32", "bfloat16"):
            flow = TorchTVL1(device=device, batch=FLOW_PAIRS, dtype=getattr(torch, dtype))
            flow(crops[:2], crops[k:k + 2])                          # warm-up: kernels
            rate, peak = timed(lambda: flow(crops[:-k], crops[k:]), FLOW_PAIRS)
            rows.append((f"optical flow tvl1_torch ({device}, {dtype})", "pairs", rate, peak))
    rate, peak = timed(lambda: flow_features(flows, track.pts68, cfg), len(flows))
    rows.append(("ROI features", "pairs", rate, peak))


def write_features(path: Path, n: int, side: int, rng: np.random.Generator) -> None:
    """A ``(n, side, side, 3)`` float32 ``.npy`` of random values, in the feature cache's format,
    written in chunks (never held whole) and atomically."""
    from numpy.lib.format import open_memmap

    from slswin_lib.io import atomic_path

    with atomic_path(path) as tmp:
        out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, side, side, 3))
        for start in range(0, n, WRITE_CHUNK):
            stop = min(start + WRITE_CHUNK, n)
            out[start:stop] = rng.standard_normal((stop - start, side, side, 3), dtype=np.float32)
        out.flush()
        del out


def full_size_features(s: SetSize, folder: Path, side: int, bytes_per_pair: int) -> dict[str, Path]:
    """The set's feature files under ``folder`` (kept from an earlier run when of the right size)."""
    from tqdm.auto import tqdm

    from slswin_lib.io import check_free_space

    folder.mkdir(parents=True, exist_ok=True)
    paths = {row.key: folder / f"{row.key}.npy" for row in s.videos.itertuples()}
    n = dict(zip(s.videos["key"], s.videos["n_frames"] - s.videos["k"]))
    todo = [key for key, p in paths.items() if not (p.exists() and p.stat().st_size >= n[key] * bytes_per_pair)]
    check_free_space(folder, sum(n[key] for key in todo) * bytes_per_pair, what=f"{SET_TITLES[s.name]} "
                     f"{s.expression} features at full size")
    rng = np.random.default_rng(0)
    for key in tqdm(todo, desc=f"writing {s.name} {s.expression} features", unit="video"):
        write_features(paths[key], int(n[key]), side, rng)
    return paths


def prepare_fold(s: SetSize, paths: dict, cfg, model_name: str, model_kwargs: dict, device: str) -> dict:
    """Prepare the largest LOSO fold of ``s`` (streamed) and train it for a few steps; memory and speed."""
    import torch

    from slswin_lib.experiment.folds import _validation_draw
    from slswin_lib.training.labels import make_labels
    from slswin_lib.training.stream import batch_loader, open_features, training_samples
    from slswin_lib.training.trainer import _optimiser, build_model, select_device

    dev = select_device(device)
    frames = s.videos.groupby("subject")["n_frames"].sum()
    held = frames.idxmin()                                           # the fold with most training data
    train = s.videos[s.videos["subject"] != held]
    test = s.videos[s.videos["subject"] == held]
    model = build_model(model_name, cfg.seed, **model_kwargs).to(dev)
    optimiser, _ = _optimiser(cfg, model, FOLD_STEPS + 1)
    loss_fn = torch.nn.MSELoss()
    with PeakRSS() as mem:
        t0 = time.perf_counter()
        labels = [make_labels(r.n_frames - r.k, r.k, s.gt.get(r.key, np.zeros((0, 2), int)), cfg.labelling,
                              cfg.pseudo_window) for r in train.itertuples()]
        samples = training_samples([paths[key] for key in train["key"]], labels, cfg,
                                   augment=cfg.augment and s.expression == "me", signed_u=False,
                                   rng=np.random.default_rng(cfg.seed), groups=list(train["subject"]))
        held_out = [open_features(paths[r.key], r.n_frames - r.k) for r in test.itertuples()]
        val = _validation_draw(held_out, np.concatenate([make_labels(r.n_frames - r.k, r.k, s.gt.get(r.key, np.zeros((0, 2), int)),
                                                                     cfg.labelling, cfg.pseudo_window)
                                                         for r in test.itertuples()]), cfg.seed)
        prepare_s = time.perf_counter() - t0
        order = torch.randperm(len(samples), generator=torch.Generator().manual_seed(cfg.seed)).numpy()
        batches = [order[b * BATCH:(b + 1) * BATCH] for b in range(FOLD_STEPS + 1)]
        model.train()
        t_steps = None
        for b, (xb, yb) in enumerate(batch_loader(samples, batches, workers=cfg.loader_workers,
                                                 pin_memory=dev.type == "cuda")):
            if b == 1:
                t_steps = time.perf_counter()                        # after one warm-up step
            loss = loss_fn(model(xb.to(dev, non_blocking=True)), yb.to(dev, non_blocking=True))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        step_rate = FOLD_STEPS * BATCH / (time.perf_counter() - t_steps)
    return {"kept_samples": int(len(samples)), "sample_bytes": int(samples.nbytes),
            "peak_rss_bytes": int(mem.peak - mem.base), "peak_anon_bytes": int(mem.peak_anon - mem.base_anon),
            "baseline_rss_bytes": int(mem.base), "prepare_seconds": prepare_s, "train_samples_per_s": step_rate,
            "held_out": str(held), "n_val": int(len(val[1])), "train_videos": int(len(train))}


def measure_training(cfg, model_name: str, model_kwargs: dict, device: str, folder: Path, rows: list) -> None:
    """A training step (streamed, paper recipe, batch 48) and prediction, on small feature files."""
    import torch

    from slswin_lib.features.preprocess import to_model_input
    from slswin_lib.training.stream import batch_loader, training_samples
    from slswin_lib.training.trainer import _optimiser, build_model, predict, select_device

    dev = select_device(device)
    from slswin_lib.config import get_profile
    from slswin_lib.features.preprocess import config_sizes

    side = 2 * config_sizes(get_profile("paper").features).roi
    n = TRAIN_STEPS * BATCH * 4
    rng = np.random.default_rng(0)
    files = []
    for v in range(2):
        files.append(folder / f"small_{v}.npy")
        write_features(files[-1], n, side, rng)
    labels = [(np.arange(n) % 4 == 0).astype(np.float32) for _ in files]
    samples = training_samples(files, labels, cfg, augment=True, signed_u=False, rng=np.random.default_rng(0))
    model = build_model(model_name, cfg.seed, **model_kwargs).to(dev)
    optimiser, _ = _optimiser(cfg, model, TRAIN_STEPS + 1)
    loss_fn = torch.nn.MSELoss()
    batches = [np.arange(b * BATCH, (b + 1) * BATCH) * 3 % len(samples) for b in range(TRAIN_STEPS + 1)]
    model.train()

    def steps(bs):
        for xb, yb in batch_loader(samples, bs, workers=cfg.loader_workers, pin_memory=dev.type == "cuda"):
            loss = loss_fn(model(xb.to(dev)), yb.to(dev))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    rate, peak = timed(lambda: [samples.batch(b) for b in batches], len(batches) * BATCH)
    rows.append(("streamed batch read (ME: normalise, augment)", "samples", rate, peak))
    steps(batches[:1])                                               # warm-up
    rate, peak = timed(lambda: steps(batches[1:]), TRAIN_STEPS * BATCH)
    rows.append((f"training step (paper, batch {BATCH}, {dev.type})", "samples", rate, peak))
    feats = np.load(files[0], mmap_mode="r")[:PREDICT_SAMPLES]
    predict(model, feats[:cfg.predict_batch_size], batch_size=cfg.predict_batch_size, transform=to_model_input)
    rate, peak = timed(lambda: predict(model, feats, batch_size=cfg.predict_batch_size, transform=to_model_input),
                       len(feats))
    rows.append((f"prediction ({dev.type})", "samples", rate, peak))
    for f in files:
        f.unlink()


def measure_ofspot(cfg, rows: list) -> None:
    """The optical-flow spotter on the Pexels clip's face track: its ROI flow (every window's) and its signal
    analysis at the source's settings, per analysed frame of a long video (where every frame lies in
    ``window / window_step`` = 2 windows; the clip's own windows are counted and scaled to that)."""
    from bench_features import read_pexels

    from slswin_lib.config import OF_SPOT
    from slswin_lib.features.extract import ArrayVideo, track_face
    from slswin_lib.trainfree.of_signals import face_scale, flow_computer, window_signals
    from slswin_lib.trainfree.ofspot import analyse_track

    track = track_face(ArrayVideo("pexels", read_pexels(OF_FRAMES), OF_FPS), cfg)
    analyse_track(track, OF_FPS).spot(1.0)                           # warm-up: imports (PyEMD), OpenCV
    out = {}
    total, peak = timed(lambda: out.setdefault("a", analyse_track(track, OF_FPS).spot(1.0)), 1)
    windows = out["a"].windows
    per_frame = OF_SPOT.window / OF_SPOT.window_step                   # windows a frame of a long video lies in
    frame_windows = int(np.sum(windows[:, 1] - windows[:, 0] + 1))
    scale = face_scale(track.pts68, track.missing, OF_SPOT)
    flow = flow_computer(OF_SPOT, scale)

    def flows():
        for a, b in windows:
            window_signals(track.crops[a:b + 1], track.missing[a:b + 1], track.pts68[a], OF_SPOT, scale, flow)

    flow_rate, flow_peak = timed(flows, frame_windows)
    seconds = 1.0 / total
    analysis = frame_windows / max(seconds - frame_windows / flow_rate, 1e-9)
    rows.append((OF_ROWS[0] + f" (Farneback, 5 boxes a frame, {per_frame:g} windows a frame)", "of frames",
                 flow_rate / per_frame, flow_peak))
    rows.append((OF_ROWS[1] + " (5 Hz filter, EMD, peak test, source settings)", "of frames", analysis / per_frame, peak))


def of_lines(rows: list, u: dict) -> list[str]:
    """The optical-flow spotter's whole-method lines (hours per set on one process and on 2 cores)."""
    rate = {stage.split(" (")[0]: r for stage, _, r, _ in rows}
    if not all(name in rate for name in OF_ROWS):
        return []
    hours = np.array([u[s]["frames"] / rate["face tracking"] + u[s]["of_frames"] / rate[OF_ROWS[0]]
                      + u[s]["of_frames"] / rate[OF_ROWS[1]] for s in SETS]) / 3600
    return [f"| **the optical-flow spotter** (tracking every frame, ROI flow, analysis; one process) | "
            f"{np.sum([u[s]['frames'] for s in SETS]) / (hours.sum() * 3600):,.1f} frames/s | | | | "
            + " | ".join(f"**{h:,.2f}**" for h in hours) + " | |",
            "| the optical-flow spotter on 2 cores (two videos at a time) | | | | | "
            + " | ".join(f"{h / 2:,.2f}" for h in hours) + " | |"]


def measure_spotting(cfg_t: float) -> dict:
    """Seconds to spot and evaluate each set (both types) at full size on random scores."""
    from slswin_lib.evaluation import evaluate
    from slswin_lib.spotting import spot

    out = {}
    for name in SETS:
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for e in ("me", "mae"):
            s = set_size(name, e)
            spotted = {r.key: spot(rng.random(r.n_frames - r.k), r.k, cfg_t, video=r.key).intervals
                       for r in s.videos.itertuples()}
            evaluate(spotted, {key: s.gt.get(key, np.zeros((0, 2), int)) for key in spotted})
        out[name] = time.perf_counter() - t0
    return out


def _paper():
    from slswin_lib.config import get_profile

    return get_profile("paper")


def _model(profile):
    from slswin_lib.models import model_kwargs

    return profile.model.name, model_kwargs(profile.model.name, profile.model)


def run_prepare(args) -> dict:
    """Write the full-size features (if needed) in this process, then measure the fold in a fresh one."""
    import dataclasses

    from slswin_lib.features.extract import feature_bytes_per_pair
    from slswin_lib.features.preprocess import config_sizes

    p = _paper()
    side = 2 * config_sizes(p.features).roi
    per_pair = feature_bytes_per_pair(p.features)
    s = set_size(args.set, args.expression)
    folder = Path(args.scratch) / f"{args.set}_{args.expression}"
    paths = full_size_features(s, folder, side, per_pair)
    on_disk = sum(f.stat().st_size for f in paths.values())
    data = int((s.videos["n_frames"] - s.videos["k"]).sum()) * per_pair
    headers = on_disk - data
    if not 0 <= headers <= len(paths) * 4096:
        raise RuntimeError(f"{folder}: {on_disk} bytes on disk for {data} bytes of features ({per_pair} a pair)")
    child = subprocess.run([sys.executable, __file__, "--measure-fold", "--set", args.set, "--expression",
                            args.expression, "--scratch", args.scratch, "--device", args.device],
                           capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": os.environ.get(
                               "OMP_NUM_THREADS", "1")})
    if child.returncode:
        raise RuntimeError(f"the fold measurement failed:\n{child.stderr[-4000:]}")
    result = json.loads(child.stdout.strip().splitlines()[-1])
    result.update(cache_bytes_on_disk=on_disk, cache_bytes_per_pair=per_pair, cache_header_bytes=headers)
    if not args.keep:
        for f in paths.values():
            f.unlink()
        folder.rmdir()
    return result


def measure_fold(args) -> None:
    p = _paper()
    s = set_size(args.set, args.expression)
    folder = Path(args.scratch) / f"{args.set}_{args.expression}"
    paths = {key: folder / f"{key}.npy" for key in s.videos["key"]}
    name, kwargs = _model(p)
    print(json.dumps(prepare_fold(s, paths, p.train, name, kwargs, args.device)))


def hours(n: int, rate: float) -> str:
    return f"{n / rate / 3600:.2f}" if n else "-"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stage", choices=["all", "prepare", "ofspot"], default="all")
    ap.add_argument("--set", choices=SETS[:2], default="samm_lv")
    ap.add_argument("--expression", choices=["me", "mae"], default="mae")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (flow tvl1_torch, training, prediction)")
    ap.add_argument("--scratch", default="/work/scratch/scale", help="folder of the full-size feature files")
    ap.add_argument("--keep", action="store_true", help="keep the full-size feature files")
    ap.add_argument("--json", action="store_true", help="--stage prepare: print only the JSON line")
    ap.add_argument("--no-fold", action="store_true", help="skip the full-size fold (no scratch disk)")
    ap.add_argument("--measure-fold", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure_fold:
        measure_fold(args)
        return
    if args.stage == "prepare":
        r = run_prepare(args)
        keys = ("kept_samples", "sample_bytes", "peak_rss_bytes")
        print(json.dumps({k: r[k] for k in keys} if args.json else r))
        if not args.json:
            print(f"peak RSS above the baseline {r['peak_rss_bytes'] / GiB:.2f} GiB for {r['kept_samples']} samples "
                  f"({r['sample_bytes'] / GiB:.2f} GiB as model input); target <= 2 GiB: "
                  f"{'met' if r['peak_rss_bytes'] <= 2 * GiB else 'MISSED'}")
        return

    from slswin_lib.features.extract import feature_bytes_per_pair

    p = _paper()
    cfg = p.train
    if args.stage == "ofspot":
        rows: list = []
        track, rate, peak = pexels_track(p.features, TRACK_FRAMES)
        rows.append(("face tracking", "frames", rate, peak))
        measure_ofspot(p.features, rows)
        u = {s: units(s, cfg) for s in SETS}
        print(" | ".join(f"{SET_TITLES[s]}: {u[s]['frames']:,} frames, {u[s]['of_frames']:,} analysed" for s in SETS))
        for stage, unit, r, pk in rows:
            key = "frames" if unit == "frames" else "of_frames"
            print(f"| {stage} | {r:,.1f} {unit}/s | " + " | ".join(f"{u[s][key]:,}" for s in SETS) + " | "
                  + " | ".join(hours(u[s][key], r) for s in SETS) + f" | {pk / GiB:.2f} GiB |")
        print("\n".join(of_lines(rows, u)))
        return
    name, kwargs = _model(p)
    per_pair = feature_bytes_per_pair(p.features)
    t0 = time.perf_counter()
    rows: list = []
    measure_extraction(p.features, args.device, rows)
    measure_ofspot(p.features, rows)
    scratch = Path(args.scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    measure_training(cfg, name, kwargs, args.device, scratch, rows)
    spots = measure_spotting(p.spot.t)
    u = {s: units(s, cfg) for s in SETS}
    unit_key = {"frames": "frames", "pairs": "pairs", "samples": None, "of frames": "of_frames"}
    lines = [f"| stage | unit cost here | {' | '.join(SET_TITLES[s] + ' units' for s in SETS)} | "
             f"{' | '.join(SET_TITLES[s] + ' h' for s in SETS)} | peak RSS (process) |",
             "|---|---|" + "---|" * (2 * len(SETS)) + "---|"]
    total = np.zeros(len(SETS))
    flow_row = PAPER_FLOW["cuda" if args.device.startswith("cuda") else "cpu"].replace("cuda", args.device)
    for stage, unit, rate, peak in rows:
        key = unit_key[unit] or ("train" if stage.startswith(("training", "streamed")) else "predict")
        n = [u[s][key] for s in SETS]
        if stage in TOTAL_ROWS or stage == flow_row or stage.startswith(("training", "prediction")):
            total += np.array(n) / rate / 3600
        lines.append(f"| {stage} | {rate:,.1f} {unit}/s | " + " | ".join(f"{x:,}" for x in n) + " | "
                     + " | ".join(hours(x, rate) for x in n) + f" | {peak / GiB:.2f} GiB |")
    lines.append(f"| spotting + evaluation | {np.mean(list(spots.values())):.2f} s per set | 1 | 1 | 1 | "
                 + " | ".join(f"{spots[s] / 3600:.4f}" for s in SETS) + " | - |")
    lines += of_lines(rows, u)
    lines.append(f"| **a paper run** (tracking, {flow_row[len('optical flow '):]}, ROI features, 25 epochs LOSO + the MEGC 2022 model, prediction) | "
                 "| | | | " + " | ".join(f"**{h:,.0f}**" for h in total) + " | |")
    if not args.no_fold:
        r = run_prepare(argparse.Namespace(set="samm_lv", expression="mae", scratch=args.scratch, device=args.device,
                                           keep=args.keep))
        lines.append(f"| fold preparation (largest SAMM-LV MaE fold, streamed, + {FOLD_STEPS} steps) | "
                     f"{r['prepare_seconds']:.1f} s, {r['kept_samples']:,} samples "
                     f"({r['sample_bytes'] / GiB:.2f} GiB as input) | | | | | | | "
                     f"+{r['peak_rss_bytes'] / GiB:.2f} GiB |")
        print(json.dumps({k: r[k] for k in ("kept_samples", "sample_bytes", "peak_rss_bytes")}))
        print(f"feature cache: {per_pair} bytes a frame pair; SAMM-LV MaE files on disk {r['cache_bytes_on_disk']:,} "
              f"bytes = pairs x {per_pair} + {r['cache_header_bytes']} header bytes")
    disk = " | ".join(f"{u[s]['pairs'] * per_pair / GiB:.1f} GiB" for s in SETS)
    lines.append(f"| feature cache on disk ({per_pair:,} B a pair) | | {disk} | | | | |")
    print(f"device {args.device}; measured in {time.perf_counter() - t0:.0f} s; projected hours on this machine "
          f"(one process; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')})")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
