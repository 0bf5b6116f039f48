"""Keypoint sinks: OpenFace-style CSV and per-frame JSON lines.

CSV columns follow OpenFace's so downstream tools read them unchanged::

    frame, face_id, timestamp, confidence, success, x_0..x_67, y_0..y_67,
    box_x, box_y, box_w, box_h

One row per face per frame; a frame with no face has no row (its absence
in the ``frame`` column is the signal). ``success`` is 1 on every row: a
face the tracker loses is left out rather than written with stale points.
JSON lines carry one object per frame, faces or not.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO

from vidkeys.errors import VidkeysError
from vidkeys.model import N_POINTS
from vidkeys.results import FrameResult
from vidkeys.video import partial_path

COLUMNS = (
    ["frame", "face_id", "timestamp", "confidence", "success"]
    + [f"x_{i}" for i in range(N_POINTS)]
    + [f"y_{i}" for i in range(N_POINTS)]
    + ["box_x", "box_y", "box_w", "box_h"]
)
FORMATS = ("csv", "jsonl")


class KeypointSink:
    """Write results to a file (atomically, via a temporary name) or to stdout (``-``).

    On stdout every frame is flushed as soon as it is done, so a consumer
    downstream of a pipe sees rows live.
    """

    def __init__(self, path: Path | str, fmt: str = "csv") -> None:
        if fmt not in FORMATS:
            raise VidkeysError(f"unknown format {fmt!r}: use csv or jsonl")
        self.fmt = fmt
        self.path = None if str(path) == "-" else Path(path)
        self._tmp: Path | None = None
        if self.path is None:
            self._file: IO[str] = sys.stdout
        else:
            self._tmp = partial_path(self.path)
            try:
                self._file = self._tmp.open("w", newline="")
            except OSError as exc:
                raise VidkeysError(f"cannot write {self.path}: {exc.strerror}") from exc
        if fmt == "csv":
            self._file.write(",".join(COLUMNS) + "\n")

    def write(self, result: FrameResult) -> None:
        """Add one frame's faces."""
        faces = result.faces
        if self.fmt == "csv":
            lines = []
            for i in range(len(faces)):
                pts = faces.points[i]
                values = [
                    str(result.index),
                    str(int(faces.face_id[i])),
                    f"{result.timestamp:.3f}",
                    f"{faces.confidence[i]:.3f}",
                    "1",
                    *(f"{v:.2f}" for v in pts[:, 0]),
                    *(f"{v:.2f}" for v in pts[:, 1]),
                    *(f"{v:.1f}" for v in faces.boxes[i]),
                ]
                lines.append(",".join(values) + "\n")
            self._file.write("".join(lines))
        else:
            record = {
                "frame": result.index,
                "timestamp": round(result.timestamp, 3),
                "faces": [
                    {
                        "face_id": int(faces.face_id[i]),
                        "confidence": round(float(faces.confidence[i]), 3),
                        "box": [round(float(v), 1) for v in faces.boxes[i]],
                        "points": faces.points[i].round(2).tolist(),
                    }
                    for i in range(len(faces))
                ],
            }
            self._file.write(json.dumps(record) + "\n")
        if self.path is None:
            self._file.flush()

    def close(self) -> Path | None:
        """Finish the file and move it into place; returns its path (None for stdout)."""
        if self.path is None:
            self._file.flush()
            return None
        self._file.close()
        assert self._tmp is not None
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the partial file."""
        if self._tmp is not None:
            self._file.close()
            self._tmp.unlink(missing_ok=True)
