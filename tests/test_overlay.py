"""Face filters: overlays land on the face, blend by alpha, and bad files fail cleanly."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers import PHOTO, SAMPLE, camera_path
from vidkeys.cli import app
from vidkeys.jobs import annotate_file
from vidkeys.outputs.overlay import Overlay, OverlayPainter, load_overlay, paste, targets
from vidkeys.pipeline import process
from vidkeys.results import Faces

#: Pupil centres in samples/astronaut.png, read by hand off a 12x zoom (iris
#: disc centres, +-1 px). The eye line they give is tilted 3.3 degrees.
PUPILS = np.array([[203.5, 100.5], [247.5, 103.0]])


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


def _placed(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre, angle (degrees) and area of what the overlay changed."""
    changed = (np.abs(before.astype(int) - after.astype(int)).max(2) > 50).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    m = cv2.moments(changed, True)
    assert m["m00"] > 0, "the overlay changed nothing"
    centre = np.array([m["m10"], m["m01"]]) / m["m00"]
    angle = 0.5 * np.degrees(np.arctan2(2 * m["mu11"], m["mu20"] - m["mu02"]))
    return centre, float(angle), float(m["m00"])


def _check_on_eyes(centre: np.ndarray, angle: float, eyes: np.ndarray) -> None:
    span = eyes[1] - eyes[0]
    dist = np.linalg.norm(span)
    offset = np.linalg.norm(centre - eyes.mean(0)) / dist
    assert offset < 0.1, f"centre {offset:.3f} eye distances from the eye midpoint"
    assert abs(angle - np.degrees(np.arctan2(span[1], span[0]))) < 3.0


def test_sunglasses_follow_the_eyes_through_the_sample(tmp_path: Path) -> None:
    out = tmp_path / "glasses.mp4"
    summary = annotate_file(
        SAMPLE, out, None, None, OverlayPainter(load_overlay("sunglasses")), quiet=True
    )
    assert summary.outputs == [out]
    before, after = _frames(SAMPLE), _frames(out)
    assert len(after) == len(before) == 120
    with av.open(str(out)) as c:
        assert [s.type for s in c.streams] == ["video", "audio"]  # audio kept
    path = camera_path()
    for i in range(0, 120, 7):  # the camera pans, zooms and rolls +-15 degrees
        eyes = PUPILS @ path[i][:, :2].T + path[i][:, 2]
        centre, angle, _ = _placed(before[i], after[i])
        _check_on_eyes(centre, angle, eyes)


@pytest.mark.parametrize("degrees", [-12.0, 12.0])
def test_sunglasses_on_a_rotated_photo(tmp_path: Path, degrees: float) -> None:
    photo = cv2.imread(str(PHOTO))
    m = cv2.getRotationMatrix2D((225.0, 110.0), degrees, 1.0)
    rotated = cv2.warpAffine(photo, m, photo.shape[1::-1])
    src, out = tmp_path / "rotated.png", tmp_path / "out.png"
    cv2.imwrite(str(src), rotated)
    annotate_file(src, out, None, None, OverlayPainter(load_overlay("sunglasses")), quiet=True)
    centre, angle, _ = _placed(rotated, cv2.imread(str(out)))
    _check_on_eyes(centre, angle, PUPILS @ m[:, :2].T + m[:, 2])


def test_moustache_and_hat_go_to_their_places() -> None:
    photo = cv2.imread(str(PHOTO))
    eyes_y = PUPILS[:, 1].mean()
    mouth_y = 140.5  # mouth corners, by hand
    result = next(iter(process([photo], device="cpu")))
    found = {}
    for name in ("moustache", "hat"):
        drawn = OverlayPainter(load_overlay(name))(photo.copy(), result.faces)
        found[name], _, _ = _placed(photo, drawn)
    assert eyes_y < found["moustache"][1] < mouth_y  # between eyes and mouth corners
    assert abs(found["moustache"][0] - PUPILS[:, 0].mean()) < 8
    assert found["hat"][1] < eyes_y - 30  # above the brows


def test_paste_blends_by_alpha_and_clips_at_the_frame_edge() -> None:
    premultiplied = np.zeros((10, 20, 4), np.uint8)
    premultiplied[...] = (0, 0, 100, 128)  # red 200 at alpha 128, times alpha
    overlay = Overlay("t", premultiplied, np.array([[5.0, 5.0], [15.0, 5.0]]), "eyes")
    frame = np.full((40, 60, 3), 100, np.uint8)
    paste(frame, overlay, np.array([[25.0, 20.0], [35.0, 20.0]]))  # scale 1, no rotation
    inside = frame[18, 22]
    assert inside[2] == pytest.approx(100 * (1 - 128 / 255) + 100, abs=2)  # 100*(1-a) + 200*a
    assert inside[0] == pytest.approx(100 * (1 - 128 / 255), abs=2)
    assert (frame[:, :19] == 100).all() and (frame[:, 41:] == 100).all()  # nothing outside
    edge = np.full((40, 60, 3), 100, np.uint8)
    paste(edge, overlay, np.array([[-4.0, 2.0], [6.0, 2.0]]))  # partly off the frame
    assert edge[0, 0, 0] < 100 and (edge[20:] == 100).all()
    gone = np.full((40, 60, 3), 100, np.uint8)
    paste(gone, overlay, np.array([[500.0, 500.0], [510.0, 500.0]]))
    assert (gone == 100).all()


def test_custom_png_uses_its_quarter_points(tmp_path: Path) -> None:
    art = np.zeros((50, 200, 4), np.uint8)
    art[:, :, :3] = (255, 0, 0)
    art[10:40, 20:180, 3] = 255  # an opaque blue bar, centred
    path = tmp_path / "bar.png"
    cv2.imwrite(str(path), art)
    overlay = load_overlay(str(path))
    assert overlay.place == "eyes" and overlay.name == "bar"
    np.testing.assert_allclose(overlay.anchors, [[50, 25], [150, 25]])
    pts = np.zeros((68, 2))
    pts[36:42] = (100, 100)
    pts[42:48] = (140, 100)
    np.testing.assert_allclose(targets(pts, "eyes"), [[100, 100], [140, 100]])
    frame = np.zeros((200, 240, 3), np.uint8)
    faces = Faces(
        np.array([0]),
        np.zeros((1, 4)),
        pts[None],
        np.ones(1),
        np.zeros((1, 3)),
        np.zeros((1, 3)),
        np.ones((1, 68)),
    )
    OverlayPainter(overlay)(frame, faces)
    blue = frame[..., 0] > 128
    ys, xs = np.nonzero(blue)
    # 200 px of art spans 2 x 40 px: the bar (160 x 30 art px) becomes 64 x 12
    assert xs.min() == pytest.approx(88, abs=1) and xs.max() == pytest.approx(151, abs=1)
    assert ys.mean() == pytest.approx(100, abs=1)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "overlay not found"),
        (b"not a picture", "not an image"),
        ("rgb", "no alpha channel"),
    ],
)
def test_bad_overlay_file_is_one_error_line(tmp_path: Path, content, message: str) -> None:
    overlay = tmp_path / "art.png"
    if isinstance(content, bytes):
        overlay.write_bytes(content)
    elif content == "rgb":
        cv2.imwrite(str(overlay), np.zeros((20, 40, 3), np.uint8))
    out = tmp_path / "out.png"
    result = CliRunner().invoke(
        app, ["filter", str(PHOTO), "--overlay", str(overlay), "-o", str(out)]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]
    assert not out.exists()


def test_filter_command_writes_next_to_the_input(tmp_path: Path) -> None:
    src = tmp_path / "me.png"
    src.write_bytes(PHOTO.read_bytes())
    result = CliRunner().invoke(app, ["filter", str(src), "--overlay", "hat"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "me.hat.png"
    assert out.is_file() and str(out) in result.output
    assert not np.array_equal(cv2.imread(str(out)), cv2.imread(str(src)))
