"""Plain videos: any video file OpenCV reads (mp4, avi, ...) or folder of jpg/png frames.

``load_dataset("video", path)`` accepts

* one video file: one video;
* one folder of frames (``*.jpg``/``*.png``, natural order): one video;
* a folder of video files and/or frame folders: one video each. A file OpenCV cannot decode is
  skipped with a warning that names it (counted in :attr:`Dataset.skipped`), so one corrupt
  file does not stop a scan; an error is raised only when nothing is readable.

Plain videos have no ground truth. ``subject`` is the file/folder name, ``video_id`` is ``"1"``.
"""
from __future__ import annotations

import re
from pathlib import Path

from .base import DataError, Dataset, FileVideo, FramesVideo, Skip, Video, natural_key, warn_skips

__all__ = ["VIDEO_SUFFIXES", "IMAGE_SUFFIXES", "frame_files", "load_plain", "open_video_file"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def frame_files(folder: Path, pattern: str | None = None, check_numbering: bool = True) -> list[Path]:
    """Image files of ``folder`` in natural order (``img2`` before ``img10``).

    With ``check_numbering`` the trailing numbers of the file names must run without gaps;
    a gap raises :class:`DataError` naming the folder and the first missing frame.
    """
    folder = Path(folder)
    if pattern:
        files = [p for p in folder.glob(pattern) if p.is_file()]
    else:
        files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    files.sort(key=natural_key)
    if check_numbering and files:
        numbers = []
        for p in files:
            m = re.search(r"(\d+)$", p.stem)
            if m is None:
                raise DataError(f"{p}: frame file name has no frame number; rename it or remove it")
            numbers.append(int(m.group(1)))
        for prev, cur, p in zip(numbers, numbers[1:], files[1:]):
            if cur != prev + 1:
                raise DataError(f"{folder}: frame number {prev + 1} is missing (next file is {p.name}); "
                                f"restore the missing frame(s) from the original data set")
    return files


def open_video_file(path: Path, dataset: str = "video", fps: float | None = None,
                    subject: str | None = None, video_id: str = "1", name: str | None = None) -> FileVideo:
    """A :class:`FileVideo` for ``path``; checks that OpenCV decodes its first frame."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    ok = cap.isOpened() and cap.read()[0]
    file_fps = cap.get(cv2.CAP_PROP_FPS) if cap.isOpened() else 0.0
    cap.release()
    if not ok:
        raise DataError(f"{path}: OpenCV cannot decode this video file (corrupt or unsupported codec)")
    use_fps = float(fps or (file_fps if file_fps and file_fps > 0 else 30.0))
    return FileVideo(dataset=dataset, subject=subject or Path(path).stem, video_id=video_id,
                     fps=use_fps, path=Path(path), name=name or Path(path).stem)


def _frames_video(folder: Path, dataset: str, fps: float, subject: str | None = None,
                  video_id: str = "1", name: str | None = None) -> FramesVideo:
    files = frame_files(folder)
    if not files:
        raise DataError(f"{folder}: no jpg/png frame in this folder")
    return FramesVideo(dataset=dataset, subject=subject or folder.name, video_id=video_id, fps=fps,
                       path=folder, frame_paths=files, name=name or folder.name)


def load_plain(root: str | Path, fps: float | None = None, dataset: str = "video") -> Dataset:
    """Load a video file, a frame folder, or a folder of those (see the module docs).

    ``fps`` overrides the frame rate (frame folders default to 30 fps, files to their header's).
    """
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"{root}: no such video file or folder")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_SUFFIXES:
            raise DataError(f"{root}: not a video file ({', '.join(VIDEO_SUFFIXES)}) nor a frame folder")
        return Dataset(dataset, [open_video_file(root, dataset, fps)], root)
    if any(p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir()):
        return Dataset(dataset, [_frames_video(root, dataset, fps or 30.0)], root)
    videos: list[Video] = []
    skipped: list[Skip] = []
    for entry in sorted(root.iterdir(), key=natural_key):
        try:
            if entry.is_file() and entry.suffix.lower() in VIDEO_SUFFIXES:
                videos.append(open_video_file(entry, dataset, fps))
            elif entry.is_dir() and not entry.name.startswith("."):
                videos.append(_frames_video(entry, dataset, fps or 30.0))
        except DataError as exc:
            skipped.append(Skip(str(entry), None, str(exc)))
    warn_skips(skipped, f"{root}")
    if not videos:
        detail = f"; skipped: {'; '.join(map(str, skipped))}" if skipped else ""
        raise DataError(f"{root}: no readable video file or frame folder{detail}")
    return Dataset(dataset, videos, root, skipped)
