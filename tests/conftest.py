"""Shared fixtures: small data sets and images the tests make themselves (shared
functions are in tests/helpers.py)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.helpers import draw_face, template_points


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
