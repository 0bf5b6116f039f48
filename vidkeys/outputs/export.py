"""Keypoint sinks: CSV with OpenFace's column names, OpenFace's own layout, JSON lines.

CSV columns carry OpenFace's names, in its order::

    frame, face_id, timestamp, confidence, success,
    pose_Tx, pose_Ty, pose_Tz, pose_Rx, pose_Ry, pose_Rz,
    x_0..x_67, y_0..y_67, [AU25_r, AU26_r, AU45_r, AU25_c, AU26_c, AU45_c,]
    box_x, box_y, box_w, box_h

(the action units with ``aus=True``, where OpenFace puts them: after its
other columns, before vidkeys' own), then, with ``features=True``,
``ear_right, ear_left, mar, iod`` (see :mod:`vidkeys.keypoints.features`),
with ``aus=True`` ``eye_open_right, eye_open_left`` and, with
``point_confidence=True``, ``conf_0..conf_67``. Action units and openness
come from ``Faces.aus`` (:mod:`vidkeys.keypoints.actions`). Pose is in mm and
radians, as OpenFace writes it (see :mod:`vidkeys.keypoints.pose`).
``confidence`` is ``Faces.confidence``
(:func:`vidkeys.keypoints.confidence.landmark_confidence`)
and ``success`` is 0 where it is below
:data:`vidkeys.keypoints.confidence.SUCCESS_THRESHOLD` (tracked, points not to be trusted).

One row per face per frame; a frame with no face has no row, as in OpenFace's
multi-face tool (FaceLandmarkVidMulti). The default layout: ``,`` between
names, ``frame`` from 0 (the source's frame index, as in the Python API and
JSON lines). ``openface=True`` writes OpenFace 2.2's layout: ``, `` between
names and values, and ``frame`` from 1. JSON lines carry
one object per frame, faces or not, with each face's 68 point confidences;
with ``aus=True`` each face also carries its action units and openness by
the CSV's names, and each frame a ``blinks`` list: the eye closures that
ended in it (:class:`~vidkeys.results.Blink`).
"""

from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path
from typing import IO

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.keypoints.actions import AU_INTENSITY, AU_PRESENCE, EYE_COLUMNS
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD
from vidkeys.keypoints.features import FEATURE_COLUMNS, face_features
from vidkeys.keypoints.weights import N_POINTS
from vidkeys.results import Blink, Faces, FrameResult

POSE_COLUMNS = ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
#: OpenFace's columns vidkeys writes, in OpenFace's order (the action units apart).
OPENFACE_COLUMNS = (
    ["frame", "face_id", "timestamp", "confidence", "success"]
    + POSE_COLUMNS
    + [f"x_{i}" for i in range(N_POINTS)]
    + [f"y_{i}" for i in range(N_POINTS)]
)
BOX_COLUMNS = ["box_x", "box_y", "box_w", "box_h"]
COLUMNS = OPENFACE_COLUMNS + BOX_COLUMNS
#: OpenFace's action unit block: every intensity, then every presence.
AU_COLUMNS = list(AU_INTENSITY + AU_PRESENCE)
POINT_CONFIDENCE_COLUMNS = [f"conf_{i}" for i in range(N_POINTS)]
FORMATS = ("csv", "jsonl")


def columns(features: bool = False, point_confidence: bool = False, aus: bool = False) -> list[str]:
    """The CSV header's names, in order, for these options."""
    return (
        OPENFACE_COLUMNS
        + (AU_COLUMNS if aus else [])
        + BOX_COLUMNS
        + (list(FEATURE_COLUMNS) if features else [])
        + (list(EYE_COLUMNS) if aus else [])
        + (POINT_CONFIDENCE_COLUMNS if point_confidence else [])
    )


class KeypointSink:
    """Write results to exactly ``path`` or to stdout (``-``).

    Callers writing a file pass a temporary name (see
    :class:`vidkeys.io.atomic.AtomicOutputs`) and ``name``, the final one, for
    messages. On stdout every frame is flushed as soon as it is done, so a
    consumer downstream of a pipe sees rows live.
    """

    def __init__(
        self,
        path: Path | str,
        fmt: str = "csv",
        features: bool = False,
        name: Path | str | None = None,
        openface: bool = False,
        point_confidence: bool = False,
        aus: bool = False,
    ) -> None:
        if fmt not in FORMATS:
            raise VidkeysError(f"unknown format {fmt!r}: use csv or jsonl")
        if openface and fmt != "csv":
            raise VidkeysError("--openface is a CSV layout: it does not go with --format jsonl")
        self.fmt = fmt
        self.features = features
        self.openface = openface
        self.point_confidence = point_confidence
        self.aus = aus
        # OpenFace 2.2 puts ", " between names and between values; readers that
        # split on "," (and strip) and readers that split on ", " both read it.
        self._sep = ", " if openface else ","
        self.path = None if str(path) == "-" else Path(path)
        self.name = Path(name or path)
        if self.path is None:
            self._file: IO[str] = sys.stdout
        else:
            try:
                self._file = self.path.open("w", newline="")
            except OSError as exc:
                raise VidkeysError(f"cannot write {self.name}: {exc.strerror}") from exc
        if fmt == "csv":
            header = columns(features, point_confidence, aus)
            self._file.write(self._sep.join(header) + "\n")

    def write(self, result: FrameResult) -> None:
        """Add one frame's faces."""
        faces = result.faces
        measures = face_features(faces.points) if self.features else None
        conf = faces.confidence
        if self.aus and not set(AU_COLUMNS) <= set(faces.aus.dtype.names or ()):
            raise VidkeysError("the results carry no action units: run the pipeline with aus=True")
        if self.fmt == "csv":
            lines = []
            frame = str(result.index + 1 if self.openface else result.index)
            for i in range(len(faces)):
                pts = faces.points[i]
                values = [
                    frame,
                    str(int(faces.face_id[i])),
                    f"{result.timestamp:.3f}",
                    f"{conf[i]:.3f}",
                    "1" if conf[i] >= SUCCESS_THRESHOLD else "0",
                    *(f"{v:.1f}" for v in faces.translation[i]),
                    *(f"{v:.4f}" for v in faces.rotation[i]),
                    *(f"{v:.2f}" for v in pts[:, 0]),
                    *(f"{v:.2f}" for v in pts[:, 1]),
                ]
                if self.aus:
                    row = faces.aus[i]
                    values += [f"{row[k]:.2f}" for k in AU_INTENSITY]
                    values += [str(int(row[k])) for k in AU_PRESENCE]
                values += [f"{v:.1f}" for v in faces.boxes[i]]
                if measures is not None:
                    values += [f"{v:.4f}" for v in measures[i, :3]] + [f"{measures[i, 3]:.2f}"]
                if self.aus:
                    values += [f"{faces.aus[i][k]:.3f}" for k in EYE_COLUMNS]
                if self.point_confidence:
                    values += [f"{v:.3f}" for v in faces.point_confidence[i]]
                lines.append(self._sep.join(values) + "\n")
            self._file.write("".join(lines))
        else:
            record: dict[str, object] = {
                "frame": result.index,
                "timestamp": round(result.timestamp, 3),
                "faces": [
                    _face_record(faces, i, measures, conf, self.aus) for i in range(len(faces))
                ],
            }
            if self.aus:
                record["blinks"] = [_blink_record(b) for b in result.blinks]
            self._file.write(json.dumps(record) + "\n")
        if self.path is None:
            self._file.flush()

    def close(self) -> Path | None:
        """Flush and close the file; returns its path (None for stdout)."""
        self._file.flush()
        if self.path is None:
            return None
        self._file.close()
        return self.path

    def abort(self) -> None:
        """Close without finishing (the caller removes the file); never raises."""
        if self.path is not None:
            with contextlib.suppress(OSError):
                self._file.close()


def _numbers(values: np.ndarray | list[float], digits: int) -> list[float | None]:
    """JSON-safe list: NaN (a pose the solver could not find) becomes null."""
    return [None if np.isnan(v) else round(float(v), digits) for v in values]


def _face_record(
    faces: Faces, i: int, measures: np.ndarray | None, conf: np.ndarray, aus: bool = False
) -> dict[str, object]:
    record: dict[str, object] = {
        "face_id": int(faces.face_id[i]),
        "confidence": round(float(conf[i]), 3),
        "success": int(conf[i] >= SUCCESS_THRESHOLD),
        "box": _numbers(faces.boxes[i], 1),
        "points": faces.points[i].round(2).tolist(),
        "point_confidence": faces.point_confidence[i].round(3).tolist(),
        "pose_T": _numbers(faces.translation[i], 1),
        "pose_R": _numbers(faces.rotation[i], 4),
    }
    if measures is not None:
        record.update(zip(FEATURE_COLUMNS, _numbers(measures[i], 4), strict=True))
    if aus:
        row = faces.aus[i]
        record.update(zip(AU_INTENSITY, _numbers([row[k] for k in AU_INTENSITY], 2), strict=True))
        record.update((k, int(row[k])) for k in AU_PRESENCE)
        record.update(zip(EYE_COLUMNS, _numbers([row[k] for k in EYE_COLUMNS], 3), strict=True))
    return record


def _blink_record(blink: Blink) -> dict[str, object]:
    """A blink event as JSON: which face, its frames and times, which eyes."""
    return {
        "face_id": blink.face_id,
        "start": blink.start,
        "end": blink.end,
        "start_time": round(blink.start_time, 3),
        "end_time": round(blink.end_time, 3),
        "duration": round(blink.duration, 3),
        "eyes": blink.eyes,
    }
