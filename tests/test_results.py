"""The Python API's results: Faces (indexing, masks, iteration, array-aware equality,
supervision's annotators) and a run, which is iterated once."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from tests.helpers import PHOTO
from vidkeys.errors import VidkeysError
from vidkeys.pipeline import process
from vidkeys.results import FACE_EDGES, Face, Faces, FrameResult


def _faces(n: int = 3) -> Faces:
    rng = np.random.default_rng(n)
    points = rng.uniform(50, 150, (n, 68, 2))
    return Faces(
        face_id=np.arange(10, 10 + n),
        boxes=np.column_stack([points.min(1), np.ptp(points, 1)]),
        points=points,
        confidence=np.linspace(0.5, 0.9, n),
        rotation=rng.normal(0, 0.2, (n, 3)),
        translation=rng.normal(0, 50, (n, 3)) + np.array([0, 0, 600]),
        point_confidence=rng.uniform(0, 1, (n, 68)),
    )


def test_len_int_slice_array_and_mask_indexing() -> None:
    faces = _faces(3)
    assert len(faces) == 3 and len(Faces.empty()) == 0
    one = faces[1]
    assert isinstance(one, Faces) and len(one) == 1  # an int keeps the dimensions
    assert one.points.shape == (1, 68, 2) and one.point_confidence.shape == (1, 68)
    assert one.face_id.tolist() == [11]
    assert faces[-1].face_id.tolist() == [12] and faces[np.int64(0)].face_id.tolist() == [10]
    assert faces[1:].face_id.tolist() == [11, 12]
    assert faces[[2, 0]].face_id.tolist() == [12, 10]
    assert faces[np.array([0, 2])].face_id.tolist() == [10, 12]
    confident = faces[faces.confidence > 0.6]
    assert confident.face_id.tolist() == [11, 12]
    np.testing.assert_array_equal(confident.points, faces.points[1:])
    np.testing.assert_array_equal(confident.rotation, faces.rotation[1:])
    none = faces[faces.confidence > 2]
    assert len(none) == 0 and none.points.shape == (0, 68, 2)
    assert len(faces[[]]) == 0
    with pytest.raises(IndexError):
        faces[3]
    with pytest.raises(IndexError):
        faces[np.array([True, False])]  # a mask of the wrong length
    with pytest.raises(TypeError):
        faces["points"]
    with pytest.raises(TypeError):
        faces[np.array([0.5])]


def test_iteration_yields_one_face_at_a_time() -> None:
    faces = _faces(2)
    got = list(faces)
    assert len(got) == 2 and all(isinstance(f, Face) for f in got)
    first = got[0]
    assert first.face_id == 10 and isinstance(first.face_id, int)
    assert first.points.shape == (68, 2) and first.box.shape == (4,)
    assert first.point_confidence.shape == (68,) and first.rotation.shape == (3,)
    assert first.confidence == pytest.approx(0.5)
    np.testing.assert_array_equal(first.points, faces.points[0])
    assert list(Faces.empty()) == []
    # The blink example's zip over arrays still works.
    assert [int(i) for i, _ in zip(faces.face_id, faces.points, strict=True)] == [10, 11]


def test_equality_compares_every_array() -> None:
    faces = _faces(3)
    copy = Faces(*(np.copy(getattr(faces, k)) for k in faces.__dataclass_fields__))
    assert faces == copy
    assert not faces.__ne__(copy)
    assert faces[faces.confidence > 0] == faces  # an all-true mask: the same faces
    assert faces[:2] != faces  # other length
    assert Faces.empty() == Faces.empty()
    moved = Faces(**{**faces.__dict__, "points": faces.points + 0.5})
    assert faces != moved
    unsolved = Faces(**{**faces.__dict__, "rotation": np.full((3, 3), np.nan)})
    assert unsolved == Faces(**{**unsolved.__dict__})  # NaN pose equals NaN pose
    assert faces != "faces" and faces != None  # noqa: E711
    first, second, _ = faces
    assert first == next(iter(copy)) and first != second
    frame = FrameResult(0, 0.0, faces, np.zeros((4, 4, 3), np.uint8))
    assert frame == FrameResult(0, 0.0, copy, np.zeros((4, 4, 3), np.uint8))
    assert frame != FrameResult(0, 0.0, copy, None)
    assert frame != FrameResult(1, 0.0, copy, np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(TypeError):
        hash(faces)  # arrays: unhashable, as numpy's


def test_face_edges_outline_the_68_points() -> None:
    assert len(FACE_EDGES) == 16 + 4 + 4 + 3 + 4 + 6 + 6 + 12 + 8
    used = {k for edge in FACE_EDGES for k in edge}
    assert used == set(range(1, 69))  # numbered from 1, as supervision's skeletons


def test_to_supervision_without_supervision_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "supervision", None)  # import fails
    with pytest.raises(ImportError, match="pip install supervision"):
        _faces(1).to_supervision()


def test_importing_vidkeys_does_not_import_supervision() -> None:
    code = "import sys, vidkeys.results, vidkeys.pipeline; assert 'supervision' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_to_supervision_feeds_supervisions_annotators() -> None:
    sv = pytest.importorskip("supervision")
    image = cv2.imread(str(PHOTO))
    frame = next(iter(process(image[None], detect_every=1)))
    faces = frame.faces
    assert len(faces) == 1
    detections, key_points = faces.to_supervision()
    assert isinstance(detections, sv.Detections) and isinstance(key_points, sv.KeyPoints)
    x, y, w, h = faces.boxes[0]
    np.testing.assert_allclose(detections.xyxy[0], [x, y, x + w, y + h], rtol=1e-5)
    np.testing.assert_allclose(detections.confidence, faces.confidence, rtol=1e-5)
    assert detections.tracker_id.tolist() == faces.face_id.tolist()
    np.testing.assert_allclose(key_points.xy, faces.points, rtol=1e-5)
    assert key_points.xy.shape == (1, 68, 2)

    scene = image.copy()
    for annotator, data in (
        (sv.VertexAnnotator(color=sv.Color.GREEN, radius=2), key_points),
        (sv.EdgeAnnotator(color=sv.Color.RED, thickness=1, edges=list(FACE_EDGES)), key_points),
        (sv.BoxAnnotator(), detections),
        (sv.LabelAnnotator(), detections),
    ):
        before = scene.copy()
        scene = annotator.annotate(scene, data)
        assert (scene != before).any(), type(annotator).__name__
    nose = np.round(faces.points[0, 30]).astype(int)
    assert (
        scene[nose[1] - 2 : nose[1] + 3, nose[0] - 2 : nose[0] + 3]
        != image[nose[1] - 2 : nose[1] + 3, nose[0] - 2 : nose[0] + 3]
    ).any()  # a vertex drawn on the nose tip

    empty_det, empty_kp = Faces.empty().to_supervision()
    assert len(empty_det) == 0 and len(empty_kp) == 0
    assert (sv.VertexAnnotator().annotate(image.copy(), empty_kp) == image).all()


def test_a_run_is_iterated_once_and_says_so_the_second_time() -> None:
    run = process(PHOTO)
    first = list(run)
    assert len(first) == 1 and len(first[0].faces) == 1 and run.frames == 1
    with pytest.raises(VidkeysError, match="iterated once"):
        list(run)
    assert run.frames == 1  # the figures still describe the one pass
    assert list(process(PHOTO)) == first  # a new run gives equal results

    broken_off = process(PHOTO)
    for _ in broken_off:
        break
    with pytest.raises(VidkeysError, match=r"call vidkeys\.process\(\)"):
        next(iter(broken_off))
