"""Shared fixtures: small data sets and images the tests make themselves."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent


def template_points() -> np.ndarray:
    """A cartoon 68-point face in iBUG order, in a unit box around (0, 0)."""
    t = np.linspace(0, np.pi, 17)
    jaw = np.stack([-0.9 * np.cos(t), -0.2 + 1.1 * np.sin(t)], 1)
    brow_l = np.stack([np.linspace(-0.75, -0.2, 5), [-0.45, -0.55, -0.58, -0.55, -0.5]], 1)
    brow_r = brow_l[::-1] * [-1, 1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.15, 4)], 1)
    nostrils = np.stack([np.linspace(-0.18, 0.18, 5), [0.25, 0.28, 0.3, 0.28, 0.25]], 1)

    def eye(cx: float) -> np.ndarray:
        a = np.array([0, 1, 2, 3, 4, 5]) * np.pi / 3
        return np.stack([cx - 0.15 * np.cos(a), -0.3 - 0.06 * np.sin(a)], 1)

    eye_l, eye_r = eye(-0.4), eye(0.4)
    a = np.linspace(0, 2 * np.pi, 13)[:12]
    outer = np.stack([-0.4 * np.cos(a), 0.55 - 0.15 * np.sin(a)], 1)
    b = np.linspace(0, 2 * np.pi, 9)[:8]
    inner = np.stack([-0.25 * np.cos(b), 0.55 - 0.05 * np.sin(b)], 1)
    pts = np.concatenate([jaw, brow_l, brow_r, bridge, nostrils, eye_l, eye_r, outer, inner])
    assert pts.shape == (68, 2)
    return pts


def draw_face(points: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """A grey image with a bright blob per keypoint: learnable, with known truth."""
    img = rng.normal(60, 10, (size, size)).clip(0, 255).astype(np.uint8)
    for x, y in points:
        cv2.circle(img, (round(x), round(y)), 2, 220, -1)
    return img


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> tuple[Path, Path, np.ndarray]:
    """24 images of four 'people' with known points: ``(csv, images dir, points)``."""
    rng = np.random.default_rng(0)
    images = tmp_path / "images"
    images.mkdir()
    rows, all_pts = [], []
    for person in ("Ann_Lee", "Bo_Chen", "Cy_Dorn", "Di_Eko"):
        for k in range(6):
            scale = rng.uniform(30, 40)
            centre = rng.uniform(55, 73, 2)
            pts = template_points() * scale + centre
            name = f"{person}_{k:02d}.jpg"
            cv2.imwrite(str(images / name), draw_face(pts, 128, rng))
            rows.append(name + "," + ",".join(f"{v:.2f}" for v in pts.ravel()))
            all_pts.append(pts)
    csv_path = tmp_path / "keypoints.csv"
    header = "," + ",".join(str(i) for i in range(136))
    csv_path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return csv_path, images, np.stack(all_pts)


@pytest.fixture
def real_data() -> Path:
    """The real data set named by VIDKEYS_DATA; the test is skipped when it is unset."""
    folder = os.environ.get("VIDKEYS_DATA")
    if not folder:
        pytest.skip("VIDKEYS_DATA is not set")
    return Path(folder)


@pytest.fixture(autouse=True)
def _private_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep the detection cache of test data sets out of the user's home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
