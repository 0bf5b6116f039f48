"""What the pipeline hands out per frame: small dataclasses of numpy arrays.

:class:`Faces` holds the faces of one frame as parallel arrays and behaves the
way roboflow ``supervision``'s ``Detections`` and ``KeyPoints`` do: ``len``,
indexing by an int, a slice, an array of indices or a boolean mask (each
giving a :class:`Faces`), iteration one :class:`Face` at a time, ``==``
comparing every array, and :meth:`Faces.to_supervision` for supervision's
annotators (supervision itself is not a dependency).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

import numpy as np

from vidkeys.keypoints.weights import N_POINTS

SUPERVISION_MISSING = "Faces.to_supervision needs supervision: pip install supervision"

#: The iBUG 68-point outline as edges between points numbered from 1, the
#: numbering of supervision's ``EdgeAnnotator(edges=...)``: jaw, brows, nose
#: bridge, nostrils, eyes, outer and inner lips (eyes and lips closed).
FACE_EDGES: tuple[tuple[int, int], ...] = tuple(
    (a + 1, b + 1)
    for first, last, closed in (
        (0, 16, False),
        (17, 21, False),
        (22, 26, False),
        (27, 30, False),
        (31, 35, False),
        (36, 41, True),
        (42, 47, True),
        (48, 59, True),
        (60, 67, True),
    )
    for a, b in [(k, k + 1) for k in range(first, last)] + ([(last, first)] if closed else [])
)


def _same(a: Any, b: Any) -> bool:
    """Arrays (or scalars) equal in shape and value; NaN equals NaN (an unsolved pose).

    Structured arrays (``Faces.aus``) are equal when they have the same fields
    and each field is equal.
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return False
    if a.dtype.names is not None or b.dtype.names is not None:
        return a.dtype.names == b.dtype.names and all(
            _same(a[name], b[name]) for name in a.dtype.names or ()
        )
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return bool(np.array_equal(a, b, equal_nan=True))
    return bool(np.array_equal(a, b))


@dataclass(frozen=True, eq=False)
class Face:
    """One face of a frame: what iterating over :class:`Faces` yields.

    The fields are row ``i`` of the :class:`Faces` arrays (views, not copies):
    ``box`` ``(4,)`` is (x, y, w, h), ``points`` ``(68, 2)``,
    ``point_confidence`` ``(68,)``, ``rotation`` and ``translation`` ``(3,)``;
    ``aus`` the face's action units by name (``face.aus["AU45_c"]``; no
    fields when the run did not measure them).
    """

    face_id: int
    box: np.ndarray
    points: np.ndarray
    confidence: float
    rotation: np.ndarray
    translation: np.ndarray
    point_confidence: np.ndarray
    aus: np.void | None = None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Face):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))


class SupervisionFaces(NamedTuple):
    """:meth:`Faces.to_supervision`'s answer: what supervision's annotators take.

    ``detections`` (``sv.Detections``) for the box and label annotators,
    ``key_points`` (``sv.KeyPoints``) for the vertex and edge annotators.
    """

    detections: Any
    key_points: Any


@dataclass(frozen=True, eq=False)
class Faces:
    """The faces of one frame, row ``i`` of every array belonging to face ``i``.

    ``points`` are ``(n, 68, 2)`` pixel coordinates in iBUG order; ``boxes``
    are ``(x, y, w, h)`` Haar-style face boxes derived from the points;
    ``confidence`` in (0, 1) is how far the points can be trusted
    (:func:`vidkeys.keypoints.confidence.landmark_confidence`; below 0.5, ``success`` 0 in
    the CSV); ``point_confidence`` ``(n, 68)`` in [0, 1] is how
    sharp each point's heatmap peak was (see
    :func:`vidkeys.keypoints.predictor.point_confidence`); ``rotation`` (pitch, yaw,
    roll in radians) and ``translation`` (mm) are the head pose, in
    OpenFace's conventions (see :mod:`vidkeys.keypoints.pose`). ``aus`` is an
    ``(n,)`` structured array of the action units by OpenFace's names and each
    eye's openness (``faces.aus["AU45_c"]``, ``faces.aus.dtype.names``; see
    :mod:`vidkeys.keypoints.actions`), with no fields unless the run was asked
    for them (``aus=True``): absent units are absent, never zeros.

    Like supervision's ``Detections``: ``faces[i]``, ``faces[2:]``,
    ``faces[[0, 2]]`` and ``faces[faces.confidence > 0.8]`` are :class:`Faces`
    (an int keeps the array dimensions: a :class:`Faces` of one face);
    ``for face in faces`` yields one :class:`Face` at a time; ``==`` compares
    every array (shape and values).
    """

    face_id: np.ndarray
    boxes: np.ndarray
    points: np.ndarray
    confidence: np.ndarray
    rotation: np.ndarray
    translation: np.ndarray
    point_confidence: np.ndarray
    aus: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.aus is None:  # no action units measured: a table with no fields
            object.__setattr__(self, "aus", np.zeros(len(self.face_id), np.dtype([])))

    def __len__(self) -> int:
        return len(self.face_id)

    def __getitem__(
        self, index: int | slice | Sequence[int] | Sequence[bool] | np.ndarray
    ) -> Faces:
        """The faces that ``index`` selects, as :class:`Faces` (an int gives one face)."""
        if isinstance(index, (int, np.integer)) and not isinstance(index, bool):
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"face index {index} out of range for {n} faces")
            key: slice | np.ndarray = np.array([index], np.intp)
        elif isinstance(index, slice):
            key = index
        elif isinstance(index, (list, tuple, np.ndarray)):
            key = np.asarray(index)
            if key.size == 0:
                key = key.astype(np.intp)
            if key.ndim != 1 or key.dtype.kind not in "biu":
                raise TypeError(
                    "Faces index must be an int, a slice, or a 1-D array of ints or booleans; "
                    f"got {key.dtype} with shape {key.shape}"
                )
            if key.dtype.kind == "b" and len(key) != len(self):
                raise IndexError(f"boolean mask of length {len(key)} for {len(self)} faces")
        else:
            raise TypeError(f"Faces cannot be indexed by {type(index).__name__}")
        return Faces(*(getattr(self, f.name)[key] for f in fields(self)))

    def __iter__(self) -> Iterator[Face]:
        """One :class:`Face` per face, in row order."""
        for i in range(len(self)):
            yield Face(
                int(self.face_id[i]),
                self.boxes[i],
                self.points[i],
                float(self.confidence[i]),
                self.rotation[i],
                self.translation[i],
                self.point_confidence[i],
                self.aus[i],
            )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Faces):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    @classmethod
    def empty(cls) -> Faces:
        """No face in the frame."""
        return cls(
            np.zeros(0, np.int64),
            np.zeros((0, 4)),
            np.zeros((0, N_POINTS, 2)),
            np.zeros(0),
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            np.zeros((0, N_POINTS)),
        )

    def to_supervision(self) -> SupervisionFaces:
        """These faces as supervision's ``(Detections, KeyPoints)``, for its annotators.

        ``detections``: ``xyxy`` from the boxes, ``confidence``, ``tracker_id``
        the face id, ``class_id`` 0 and ``class_name`` "face"; ``key_points``:
        the points, each point's confidence, ``class_id`` 0 and the face id in
        ``data["face_id"]``; the action units, when measured, in the
        detections' ``data`` by name. Draw the outline with
        ``sv.EdgeAnnotator(edges=vidkeys.results.FACE_EDGES)``. Needs
        ``pip install supervision`` (imported here, not by vidkeys).
        """
        try:
            import supervision as sv
        except ImportError as exc:
            raise ImportError(SUPERVISION_MISSING) from exc
        n = len(self)
        xyxy = np.asarray(self.boxes, np.float32).reshape(n, 4).copy()
        xyxy[:, 2:] += xyxy[:, :2]
        class_id = np.zeros(n, int)
        columns = {name: self.aus[name] for name in self.aus.dtype.names or ()}
        detections = sv.Detections(
            xyxy=xyxy,
            confidence=np.asarray(self.confidence, np.float32),
            class_id=class_id,
            tracker_id=np.asarray(self.face_id, int),
            data={"class_name": np.full(n, "face"), **columns},
        )
        xy = np.asarray(self.points, np.float32).reshape(n, N_POINTS, 2)
        point_conf = np.asarray(self.point_confidence, np.float32).reshape(n, N_POINTS)
        data = {"face_id": np.asarray(self.face_id, int)}
        try:  # supervision >= 0.29 names it keypoint_confidence, earlier ones confidence
            key_points = sv.KeyPoints(
                xy=xy, keypoint_confidence=point_conf, class_id=class_id, data=data
            )
        except TypeError:
            key_points = sv.KeyPoints(xy=xy, confidence=point_conf, class_id=class_id, data=data)
        return SupervisionFaces(detections, key_points)


@dataclass(frozen=True)
class Blink:
    """One eye closure of one face: a blink (both eyes) or a wink (one).

    ``start`` and ``end`` are its first and last shut frames (indices in the
    source, as ``FrameResult.index``), ``start_time`` and ``end_time`` their
    times (s); ``duration`` is seconds from the first shut frame to the first
    frame the eyes are seen open again; ``eyes`` is ``"both"``, ``"right"`` or
    ``"left"`` (the person's own, as ``ear_right``). The rule:
    :mod:`vidkeys.keypoints.actions`.
    """

    face_id: int
    start: int
    end: int
    start_time: float
    end_time: float
    duration: float
    eyes: str


@dataclass(frozen=True, eq=False)
class FrameResult:
    """One processed frame: where it is in the source and the faces found in it.

    ``image`` is the BGR frame when the run was asked to keep frames (for
    drawing), else ``None``. ``blinks`` are the eye closures that ended in
    this frame (the frame their eyes were seen open again), with ``aus=True``;
    else always empty. ``==`` compares the faces' and image's arrays.
    """

    index: int
    timestamp: float
    faces: Faces
    image: np.ndarray | None = None
    blinks: tuple[Blink, ...] = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameResult):
            return NotImplemented
        if (self.image is None) != (other.image is None):
            return False
        return (
            self.index == other.index
            and self.timestamp == other.timestamp
            and self.blinks == other.blinks
            and self.faces == other.faces
            and (self.image is None or _same(self.image, other.image))
        )
