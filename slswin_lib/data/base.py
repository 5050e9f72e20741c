"""The dataset interface shared by every reader: :class:`Event`, :class:`Video`, :class:`Dataset`.

Conventions
-----------
* Frames are numbered from 0; an :class:`Event` covers ``onset .. offset`` inclusively
  (the sheets of CAS(ME)^2 and SAMM-LV are 1-based; the readers convert, docs/method.md, Section 3).
* ``Video.frame(i)`` returns an ``(H, W, 3)`` ``uint8`` RGB array.
* Expression types are ``"me"`` (micro) and ``"mae"`` (macro).
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "EXPRESSION_TYPES", "Event", "Video", "FramesVideo", "FileVideo", "Dataset", "Skip",
    "DataError", "natural_key", "read_image_rgb", "open_workbook", "videos_with_type", "mean_half_length",
    "compute_k",
]

#: the two expression types, in the order used throughout slswin
EXPRESSION_TYPES: tuple[str, str] = ("me", "mae")


class DataError(ValueError):
    """Malformed input data: the message names the file (and row) and how to fix it."""


class Event(NamedTuple):
    """One ground-truth expression: 0-based, inclusive frame numbers.

    >>> Event(10, 14, 20, "me").length
    11
    """

    onset: int
    apex: int
    offset: int
    type: str

    @property
    def length(self) -> int:
        """Number of frames, ``offset - onset + 1``."""
        return self.offset - self.onset + 1


@dataclass(frozen=True)
class Skip:
    """A documented, counted skip of input that could not be used (kept on :attr:`Dataset.skipped`)."""

    file: str
    row: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.file}, row {self.row}" if self.row is not None else self.file
        return f"{where}: {self.reason}"


def open_workbook(path: Path | str) -> pd.ExcelFile:
    """An annotation workbook (``.xlsx``), or a :class:`DataError` naming the file."""
    try:
        return pd.ExcelFile(path)
    except Exception as exc:  # openpyxl raises several types for broken files
        raise DataError(f"{path}: cannot read the annotation workbook ({exc})") from exc


def natural_key(path: Path | str) -> tuple:
    """Sort key that orders ``img2`` before ``img10``."""
    name = Path(path).name
    return tuple(int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name))


def read_image_rgb(path: Path | str) -> np.ndarray:
    """Read an image file as ``(H, W, 3)`` ``uint8`` RGB; raises :class:`DataError` naming the file."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(f"{path}: missing or unreadable image file; restore the frame from the "
                        f"original data set or remove the video")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass
class Video:
    """One long video. Subclasses implement :meth:`frame` and :meth:`frames`.

    Attributes
    ----------
    dataset, subject, video_id:
        identify the video; ``key == f"{subject}_{video_id}"`` is unique within a data set.
    fps:
        frame rate in frames per second.
    n_frames:
        number of frames.
    events:
        ground-truth expressions (empty when the data set has no ground truth).
    path:
        the source (a folder of frames or a video file).
    name:
        the name under which predictions are submitted (MEGC ``vid``); defaults to ``key``.
    """

    dataset: str
    subject: str
    video_id: str
    fps: float
    path: Path
    events: list[Event] = field(default_factory=list)
    name: str | None = None

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if self.name is None:
            self.name = self.key

    @property
    def key(self) -> str:
        return f"{self.subject}_{self.video_id}"

    @property
    def n_frames(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def frame(self, i: int) -> np.ndarray:  # pragma: no cover - abstract
        """Frame ``i`` (0-based) as ``(H, W, 3)`` uint8 RGB."""
        raise NotImplementedError

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        """Frames ``start .. stop-1`` in order, each ``(H, W, 3)`` uint8 RGB."""
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i in range(start, stop):
            yield self.frame(i)

    def events_of(self, type: str) -> list[Event]:
        return [e for e in self.events if e.type == type]

    def _check_index(self, i: int) -> int:
        n = self.n_frames
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError(f"frame {i} is outside video {self.key} ({n} frames, {self.path})")
        return i

    def __repr__(self) -> str:
        counts = {t: len(self.events_of(t)) for t in EXPRESSION_TYPES}
        return (f"{type(self).__name__}({self.dataset}:{self.key}, {self.n_frames} frames "
                f"@ {self.fps:g} fps, me={counts['me']}, mae={counts['mae']})")


@dataclass(repr=False)
class FramesVideo(Video):
    """A video stored as a folder of image files (one file per frame, in natural order)."""

    frame_paths: list[Path] = field(default_factory=list)

    @property
    def n_frames(self) -> int:
        return len(self.frame_paths)

    def frame(self, i: int) -> np.ndarray:
        return read_image_rgb(self.frame_paths[self._check_index(i)])


@dataclass(repr=False)
class FileVideo(Video):
    """A video file read with OpenCV (mp4, avi, ...). Frames are decoded on demand."""

    _n: int | None = field(default=None, init=False, repr=False)
    _cap: object = field(default=None, init=False, repr=False)
    _next: int = field(default=0, init=False, repr=False)

    def _open(self):
        import cv2

        cap = cv2.VideoCapture(str(self.path))
        if not cap.isOpened():
            raise DataError(f"{self.path}: OpenCV cannot open this video file (corrupt or an "
                            f"unsupported codec); convert it, e.g. to frames with ffmpeg")
        return cap

    @property
    def n_frames(self) -> int:
        if self._n is None:  # count by decoding: container frame counts are often wrong
            cap = self._open()
            n = 0
            while cap.grab():
                n += 1
            cap.release()
            if n == 0:
                raise DataError(f"{self.path}: no decodable frame; the file is corrupt or empty")
            self._n = n
        return self._n

    def frame(self, i: int) -> np.ndarray:
        import cv2

        i = self._check_index(i)
        if self._cap is None or i != self._next:
            if self._cap is not None:
                self._cap.release()
            self._cap = self._open()
            for _ in range(i):  # sequential seek: exact, unlike CAP_PROP_POS_FRAMES
                self._cap.grab()
        ok, bgr = self._cap.read()
        if not ok:
            raise DataError(f"{self.path}: cannot decode frame {i}; the file is truncated or corrupt")
        self._next = i + 1
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def frames(self, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
        stop = self.n_frames if stop is None else min(stop, self.n_frames)
        for i in range(start, stop):
            yield self.frame(i)  # sequential access reuses the open capture


# -- the rules that use annotations: a type's set of videos, and k ------------------------------------
def videos_with_type(videos: Iterable[Video], type: str) -> list[Video]:
    """Rule "a video enters a type's set only if it has at least one interval of that type"."""
    return [v for v in videos if any(e.type == type for e in v.events)]


def mean_half_length(events: Sequence[Event]) -> float:
    """``(mean(offset - onset) + 1) / 2`` over ``events`` (0-based, inclusive; paper Section 2.1)."""
    if not events:
        raise ValueError("no events to compute k from; the training set has no interval of this type")
    mean = sum(e.offset - e.onset for e in events) / len(events)
    return (mean + 1) / 2


def compute_k(events: Sequence[Event]) -> int:
    """``k = int((mean(offset - onset) + 1) / 2)`` (paper Section 2.1: half the mean expression length).

    >>> compute_k([Event(0, 5, 11, "me"), Event(100, 104, 110, "me")])  # mean 10.5 -> int(5.75)
    5
    """
    return int(mean_half_length(events))


@dataclass
class Dataset:
    """A list of videos with their ground truth.

    ``skipped`` records input that a reader skipped on purpose (see each reader's docs);
    ``annotation_file`` is the annotation workbook the reader read (None: none, or not recorded).
    """

    name: str
    videos: list[Video]
    root: Path | None = None
    skipped: list[Skip] = field(default_factory=list)
    annotation_file: Path | None = None

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[Video]:
        return iter(self.videos)

    def __getitem__(self, key: str | int) -> Video:
        if isinstance(key, int):
            return self.videos[key]
        for v in self.videos:
            if v.key == key or v.name == key:
                return v
        raise KeyError(f"no video {key!r} in data set {self.name}; known: {[v.key for v in self.videos]}")

    @property
    def subjects(self) -> list[str]:
        """Subjects in first-seen order."""
        return list(dict.fromkeys(v.subject for v in self.videos))

    def annotations(self) -> pd.DataFrame:
        """All events: columns subject, video_id, type, onset, apex, offset (0-based, inclusive)."""
        rows = [(v.subject, v.video_id, e.type, e.onset, e.apex, e.offset)
                for v in self.videos for e in v.events]
        df = pd.DataFrame(rows, columns=["subject", "video_id", "type", "onset", "apex", "offset"])
        return df.astype({"onset": "int64", "apex": "int64", "offset": "int64"})

    def subset(self, subjects: Iterable[str] | None = None, exclude: Iterable[str] = ()) -> "Dataset":
        """Videos of the given subjects (all when None), minus the excluded subjects (LOSO folds)."""
        keep = set(self.subjects if subjects is None else subjects) - set(exclude)
        return Dataset(self.name, [v for v in self.videos if v.subject in keep], self.root,
                       list(self.skipped), self.annotation_file)

    def select(self, type: str) -> "Dataset":
        """Videos with at least one event of ``type`` (paper Section 3.1, docs/method.md: a video enters a type's set only then)."""
        return Dataset(self.name, videos_with_type(self.videos, type), self.root, list(self.skipped),
                       self.annotation_file)

    def mean_half_length(self, type: str) -> float:
        """``(mean(offset - onset) + 1) / 2`` over the events of ``type`` (paper Section 2.1)."""
        return mean_half_length([e for v in self.videos for e in v.events_of(type)])

    def compute_k(self, type: str, subjects: Iterable[str] | None = None) -> int:
        """``k = int((mean(offset - onset) + 1) / 2)``, half the mean expression length (paper Sec. 3.1).

        Args:
            type: expression type, ``"me"`` or ``"mae"``.
            subjects: whose annotations count: None, every subject of this data set (the
                authors' code, the test subject of a LOSO fold included; ``SpotConfig.k_from =
                "all_subjects"``); or a fold's training subjects only (``"training_subjects"``).

        Returns:
            k in frames.

        Raises:
            DataError: a subject is not in this data set.
            ValueError: the chosen videos have no event of ``type``.
        """
        if subjects is None:
            return int(self.mean_half_length(type))
        subjects = list(subjects)
        unknown = sorted(set(subjects) - set(self.subjects))
        if unknown:
            raise DataError(f"compute_k: subjects {unknown} are not in data set {self.name}; "
                            f"known: {self.subjects}")
        return self.subset(subjects).compute_k(type)

    def summary(self) -> pd.DataFrame:
        """One row per video: subject, video_id, n_frames, fps, seconds, n_me, n_mae."""
        rows = []
        for v in self.videos:
            rows.append({"subject": v.subject, "video_id": v.video_id, "n_frames": v.n_frames,
                         "fps": v.fps, "seconds": round(v.n_frames / v.fps, 2),
                         "n_me": len(v.events_of("me")), "n_mae": len(v.events_of("mae"))})
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        return (f"Dataset({self.name!r}, {len(self.subjects)} subjects, {len(self.videos)} videos, "
                f"{sum(len(v.events) for v in self.videos)} events, {len(self.skipped)} skipped)")


def warn_skips(skips: Sequence[Skip], what: str) -> None:
    """One warning that summarises the counted skips of a reader."""
    if skips:
        shown = "; ".join(str(s) for s in skips[:5])
        more = f" (and {len(skips) - 5} more)" if len(skips) > 5 else ""
        warnings.warn(f"{what}: skipped {len(skips)} item(s): {shown}{more}", stacklevel=3)


def attach_events(videos: dict, table, sheet_path, frames_root, *, strict: bool, skips: list,
                  sep: str = "_") -> None:
    """Attach cleaned annotation rows to their videos and sort each video's events.

    Args:
        videos: ``(subject, video_id) -> Video`` found on disk.
        table: cleaned rows with ``subject, video_id, onset, apex, offset, type, excel_row``.
        sheet_path, frames_root: named in messages.
        strict: raise for a row whose video has no folder instead of counting it in ``skips``.
        sep: between subject and video id in messages (the data set's own folder naming).

    Raises:
        DataError: a row names a missing video (``strict``) or ends beyond its video's last frame.
    """
    for r in table.itertuples(index=False):
        video = videos.get((r.subject, r.video_id))
        where = f"{sheet_path}, row {r.excel_row}"
        if video is None:
            problem = f"video {r.subject}{sep}{r.video_id} has no folder under {frames_root}"
            if strict:
                raise DataError(f"{where}: {problem}")
            skips.append(Skip(str(sheet_path), r.excel_row, problem))
            continue
        if r.offset >= video.n_frames:
            raise DataError(f"{where}: offset {r.offset + 1} is beyond the last frame "
                            f"({video.n_frames}) of {video.path}")
        video.events.append(Event(int(r.onset), int(r.apex), int(r.offset), r.type))
    for v in videos.values():
        v.events.sort()
