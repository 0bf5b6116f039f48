"""Aligned face images and their index: what ``vidkeys export-faces`` writes.

One folder per input (``clip.faces/``) holds one image per face per frame
kept, aligned by :func:`vidkeys.align`, named as OpenFace names its aligned
faces with the face id where OpenFace counts detections::

    frame_det_FF_NNNNNN.png    FF: face_id (2 digits or more), NNNNNN: frame (6 or more)

and ``index.csv``, one row per image: ``frame, face_id, timestamp,
confidence, success, file``, the 2x3 transform from frame to image pixels
``a11, a12, a13, a21, a22, a23`` (``[[a11, a12, a13], [a21, a22, a23]]``) and
the 68 points in the image, ``x_0..x_67, y_0..y_67``. ``frame`` is the
source's frame index, from 0, as in ``export-csv``'s CSV (OpenFace counts
from 1).
"""

from __future__ import annotations

import contextlib
import math
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import cv2
import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD
from vidkeys.keypoints.weights import N_POINTS
from vidkeys.outputs.align import SIZE, align, check_size
from vidkeys.results import Faces, FrameResult

#: Frames whose images may wait to be written: the writing thread works this far
#: behind the pipeline, and memory stays bounded (a 1080p frame is 6 MB).
AHEAD = 4

#: The index file of a faces folder; its header tells an earlier faces folder
#: (replaced whole by a new run) from a folder of other files (refused).
INDEX = "index.csv"
#: The folder's tag: ``clip.mp4`` -> ``clip.faces`` (see :mod:`vidkeys.io.naming`).
TAG = "faces"
IMAGE_FORMATS = ("png", "jpg")
MATRIX_COLUMNS = ["a11", "a12", "a13", "a21", "a22", "a23"]
INDEX_COLUMNS = (
    ["frame", "face_id", "timestamp", "confidence", "success", "file"]
    + MATRIX_COLUMNS
    + [f"x_{i}" for i in range(N_POINTS)]
    + [f"y_{i}" for i in range(N_POINTS)]
)
HEADER = ",".join(INDEX_COLUMNS)


def image_name(frame: int, face_id: int, ext: str) -> str:
    """The file of face ``face_id`` in frame ``frame``: ``frame_det_00_000001.png``."""
    return f"frame_det_{face_id:02d}_{frame:06d}.{ext}"


def is_faces_folder(folder: Path) -> bool:
    """True for a folder an earlier ``export-faces`` wrote (its index's header is ours)."""
    try:
        with (folder / INDEX).open(encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\r\n") == HEADER
    except OSError:
        return False


@dataclass(frozen=True)
class FaceImages:
    """What to write: image ``size`` (px a side), ``gray`` or colour, ``image_format``
    (png or jpg), which frames (``every`` N-th by frame number, or at most
    ``per_second`` a second), and ``all_faces``: faces with ``success`` 0 too."""

    size: int = SIZE
    gray: bool = False
    image_format: str = "png"
    every: int = 1
    per_second: float | None = None
    all_faces: bool = False

    def check(self) -> FaceImages:
        """These options, or one clear error naming the option that is wrong."""
        check_size(self.size)
        if self.image_format not in IMAGE_FORMATS:
            raise VidkeysError(f"unknown image format {self.image_format!r}: use png or jpg")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise VidkeysError(f"--every must be a whole number >= 1, got {self.every!r}")
        if self.per_second is not None:
            if not (math.isfinite(self.per_second) and self.per_second > 0):
                raise VidkeysError(f"--per-second must be above 0, got {self.per_second}")
            if self.every != 1:
                raise VidkeysError("--every and --per-second pick frames two ways: give one")
        return self


class FaceImageSink:
    """Write the aligned faces of each frame into ``folder``, and their index.

    ``folder`` is the hidden folder :meth:`vidkeys.io.atomic.AtomicOutputs.add_folder`
    gives; ``name`` the final one, for messages. Frames need their image
    (``keep_images=True``). Aligning, encoding and writing run in a thread of
    their own, up to :data:`AHEAD` frames behind (OpenCV lets go of the GIL
    there), so they overlap the pipeline's work on the next frames; an error
    there comes out of the next :meth:`write` or :meth:`close`.
    """

    def __init__(self, folder: Path, options: FaceImages, name: Path | None = None) -> None:
        self.folder = Path(folder)
        self.options = options.check()
        self.name = Path(name or folder)
        #: Images written so far (and listed in the index).
        self.images = 0
        self._slot = -1  # the last 1/per_second slot a frame was kept in
        try:
            self._index: IO[str] = (self.folder / INDEX).open("w", newline="", encoding="utf-8")
        except OSError as exc:
            raise VidkeysError(f"cannot write {self.name}: {exc.strerror}") from exc
        self._index.write(HEADER + "\n")
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vidkeys-faces")
        self._pending: deque[Future[list[str]]] = deque()

    def wanted(self, result: FrameResult) -> bool:
        """Whether this frame's faces are written (``every``, ``per_second``)."""
        if self.options.per_second is not None:
            slot = math.floor(result.timestamp * self.options.per_second + 1e-9)
            if slot <= self._slot:
                return False
            self._slot = slot
            return True
        return result.index % self.options.every == 0

    def write(self, result: FrameResult) -> None:
        """Queue this frame's faces (those kept) to be aligned and written."""
        faces = result.faces
        if not len(faces) or not self.wanted(result):
            return
        if not self.options.all_faces:
            faces = faces[faces.confidence >= SUCCESS_THRESHOLD]
            if not len(faces):
                return
        if result.image is None:
            raise VidkeysError("aligned faces need the frames' images: run with keep_images=True")
        job = self._pool.submit(self._frame, result.index, result.timestamp, result.image, faces)
        self._pending.append(job)
        while len(self._pending) > AHEAD:
            self._done(self._pending.popleft())

    def _done(self, job: Future[list[str]]) -> None:
        rows = job.result()
        self._index.write("".join(rows))
        self.images += len(rows)

    def _frame(self, index: int, timestamp: float, frame: np.ndarray, faces: Faces) -> list[str]:
        """Align, encode and write one frame's faces; their index rows."""
        rows = []
        for i in range(len(faces)):
            conf = float(faces.confidence[i])
            face_id = int(faces.face_id[i])
            aligned = align(frame, faces.points[i], self.options.size)
            image = aligned.image
            if self.options.gray and image.ndim == 3:
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            name = image_name(index, face_id, self.options.image_format)
            ok, data = cv2.imencode("." + self.options.image_format, image)
            if not ok:
                raise VidkeysError(f"cannot encode an image as {self.options.image_format}")
            (self.folder / name).write_bytes(data.tobytes())
            pts = aligned.points
            values = [
                str(index),
                str(face_id),
                f"{timestamp:.3f}",
                f"{conf:.3f}",
                "1" if conf >= SUCCESS_THRESHOLD else "0",
                name,
                *(f"{v:.6f}" for v in aligned.matrix.ravel()),
                *(f"{v:.2f}" for v in pts[:, 0]),
                *(f"{v:.2f}" for v in pts[:, 1]),
            ]
            rows.append(",".join(values) + "\n")
        return rows

    def close(self) -> None:
        """Finish the queued images and close the index."""
        while self._pending:
            self._done(self._pending.popleft())
        self._pool.shutdown()
        self._index.close()

    def abort(self) -> None:
        """Stop without finishing (the caller drops the folder); never raises."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()
        with contextlib.suppress(OSError):
            self._index.close()
