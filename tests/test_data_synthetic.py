"""Synthetic benchmark: layout, determinism, build-or-load, event sizes, exact displacements."""
from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest

from slswin_lib.config import get_profile
from slswin_lib.data import ensure_synthetic, load_dataset, load_motion, true_displacement
from slswin_lib.data.synthetic import count_events, render_frame

SMALL = dict(seconds_per_video=6.0, frame_size=128, n_subjects=2)


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory):
    return ensure_synthetic(get_profile("smoke"), tmp_path_factory.mktemp("synth") / "synthetic", **SMALL)


@pytest.fixture(scope="session")
def synth(synth_root):
    return load_dataset("casme2", synth_root, dataset="synthetic")


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file() and p.name != "synthetic.json":
            h.update(p.relative_to(root).as_posix().encode())
            h.update(p.read_bytes() if p.suffix != ".xlsx" else b"")  # xlsx zips carry timestamps
    return h.hexdigest()


def test_layout_and_reader(synth_root, synth):
    assert (synth_root / "CAS(ME)^2code_final.xlsx").is_file()
    folders = sorted(p.relative_to(synth_root / "rawpic").as_posix() for p in (synth_root / "rawpic").glob("*/*"))
    assert [f[:7] for f in folders] == ["s01/01_", "s02/02_"]
    assert synth.subjects == ["s01", "s02"]
    for v in synth:
        assert v.n_frames == 180 and v.fps == 30.0
        assert v.frame(0).shape == (128, 128, 3)
        assert (v.path / "img1.jpg").is_file() and (v.path / "img180.jpg").is_file()
        m = load_motion(v)
        # the sheet (read back through the CAS(ME)^2 reader) matches the motion record exactly
        assert [(e.onset, e.apex, e.offset) for e in v.events] == [tuple(r) for r in m["events"]]
        assert [e.type for e in v.events] == list(m["event_types"])
        assert {"me", "mae"} <= {e.type for e in v.events}


def test_count_events_without_rendering(synth):
    """count_events draws the build's time lines: its counts are those of the built set."""
    import dataclasses

    cfg = dataclasses.replace(get_profile("smoke").data, **SMALL)
    built = [e.type for v in synth for e in v.events]
    assert count_events(cfg) == {"videos": len(synth.videos), "me": built.count("me"), "mae": built.count("mae")}


def test_event_sizes_and_durations(synth):
    for v in synth:
        m = load_motion(v)
        px128 = float(m["face_box"]) / 128
        aus = m["bump_aus"]
        for e in v.events:
            seconds = e.length / v.fps
            peak = m["amps"][e.apex][aus != "blink"].max() / px128   # bump amplitude, 128-crop px
            if e.type == "me":
                assert 0.2 - 1 / 30 <= seconds <= 0.5 + 1 / 30
                assert 0.3 * 0.7 - 1e-6 <= peak <= 1.0 + 1e-6
            else:
                assert 0.5 - 1 / 30 <= seconds <= 4.0 + 1 / 30
                assert 1.5 * 0.7 * 0.5 <= peak <= 6.0 + 1e-6
            outside = np.r_[0:e.onset]
            # nothing of this event before its onset (earlier events have ended by then)
            assert m["amps"][e.onset][aus != "blink"].max() <= m["amps"][outside][:, aus != "blink"].max() + 1e-9 \
                if len(outside) else True


def test_deterministic_and_build_or_load(tmp_path, synth_root):
    a = ensure_synthetic(get_profile("smoke"), tmp_path / "a", **SMALL)
    assert _tree_digest(a) == _tree_digest(synth_root)
    stamp = (a / "synthetic.json").stat().st_mtime_ns
    assert ensure_synthetic(get_profile("smoke"), a, **SMALL) == a               # loaded, not rebuilt
    assert (a / "synthetic.json").stat().st_mtime_ns == stamp
    # a half-built set (no marker) is never reused: it is rebuilt
    (a / "synthetic.json").unlink()
    (a / "rawpic" / "s01").rename(a / "rawpic" / "junk")
    ensure_synthetic(get_profile("smoke"), a, **SMALL)
    assert (a / "rawpic" / "s01").is_dir() and not (a / "rawpic" / "junk").exists()
    info = json.loads((a / "synthetic.json").read_text())
    assert info["fingerprint"]["config"]["seconds_per_video"] == 6.0
    assert not list(tmp_path.glob(".a.*"))                                      # no temp left over


def _hand_motion(tmp_path, head, amps, centres, vectors, sigma=8.0, size=64):
    r = len(centres)
    path = tmp_path / "m.npz"
    np.savez(path, head=np.asarray(head, float), amps=np.asarray(amps, np.float32),
             centres=np.asarray(centres, float).reshape(r, 2), sigmas=np.full((r, 2), sigma),
             vectors=np.asarray(vectors, float).reshape(r, 2), frame_size=size)
    return path


IDENT = [[1, 0, 0], [0, 1, 0]]


def test_true_displacement_translation_by_hand(tmp_path):
    path = _hand_motion(tmp_path, [IDENT, [[1, 0, 3], [0, 1, -2]]], [[0.0], [0.0]], [[32, 32]], [[1, 0]])
    d = true_displacement(path, 0, 1)
    assert d.shape == (64, 64, 2) and d.dtype == np.float32
    np.testing.assert_allclose(d[..., 0], 3.0, atol=1e-5)
    np.testing.assert_allclose(d[..., 1], -2.0, atol=1e-5)
    np.testing.assert_allclose(true_displacement(path, 1, 0), -d, atol=1e-5)
    np.testing.assert_allclose(true_displacement(path, 1, 1), 0.0, atol=1e-5)


def test_true_displacement_rotation_by_hand(tmp_path):
    # frame 1 = frame 0 rotated by +90 degrees about (32, 32): (x, y) -> (32 - (y - 32), 32 + (x - 32))
    rot = [[0, -1, 64], [1, 0, 0]]
    path = _hand_motion(tmp_path, [IDENT, rot], [[0.0], [0.0]], [[32, 32]], [[1, 0]])
    d = true_displacement(path, 0, 1)
    # the point (40, 32) goes to (32, 40): d = (-8, +8)
    np.testing.assert_allclose(d[32, 40], [-8.0, 8.0], atol=1e-5)
    np.testing.assert_allclose(d[32, 32], [0.0, 0.0], atol=1e-5)


def test_true_displacement_bump_by_hand(tmp_path):
    # one bump at (20, 30), direction up (0, -1), amplitude 1.5 px in frame 1, none in frame 0
    path = _hand_motion(tmp_path, [IDENT, IDENT], [[0.0], [1.5]], [[20, 30]], [[0, -1]], sigma=6.0)
    d = true_displacement(path, 0, 1)
    np.testing.assert_allclose(d[30, 20], [0.0, -1.5], atol=1e-6)            # centre: a * v
    g = math.exp(-0.5 * (6 / 6.0) ** 2)                                       # one sigma to the right
    np.testing.assert_allclose(d[30, 26], [0.0, -1.5 * g], atol=1e-6)
    assert np.abs(d[:, 50:]).max() < 1.5 * math.exp(-0.5 * 5 ** 2) + 1e-7        # >= 5 sigma away: still
    # backwards (frame 1 -> 0): the point that sits at the centre's image goes back to the centre
    back = true_displacement(path, 1, 0)
    assert abs(back[28, 20, 1] - 1.5) < 0.05    # (20, 28.5) -> (20, 30); nearest pixel row 28


def test_displacement_matches_rendering(synth):
    """F_i(x) == F_j(x + d(x)) on the noise-free rendering, for a real synthetic video."""
    import cv2

    v = synth.select("mae").videos[0]
    e = v.events_of("mae")[0]
    m = load_motion(v)
    rng = np.random.default_rng(0)
    tex = cv2.GaussianBlur(rng.uniform(0, 255, (128, 128, 3)).astype(np.float32), (0, 0), 2.0)
    bumps = {k: m[k] for k in ("centres", "sigmas", "vectors")}
    i, j = e.onset, e.apex
    fi = render_frame(tex, m["head"][i], bumps, m["amps"][i].astype(float))
    fj = render_frame(tex, m["head"][j], bumps, m["amps"][j].astype(float))
    d = true_displacement(v, i, j)
    gy, gx = np.mgrid[0:128, 0:128].astype(np.float32)
    back = cv2.remap(fj, gx + d[..., 0], gy + d[..., 1], cv2.INTER_LINEAR)
    inner = (slice(16, 112), slice(16, 112))
    moved = np.linalg.norm(d, axis=-1)[inner]
    assert moved.max() > 0.5                                  # the event really moves the face
    err = np.abs(back - fi)[inner].mean()
    still = np.abs(fj - fi)[inner].mean()
    assert err < 0.25 * still                                  # d explains the change
    assert err < 1.0                                           # grey levels, interpolation only
