"""The eye and mouth stage: the lids and lips placed again on close-up patches.

The 112 px face crop gives an open eye about 3 px of height and its heatmaps
are 8 px a cell: the face network finds where the eyes and mouth are, but
barely sees whether they are open (on real clips its eye opening followed
MediaPipe's at r 0.76 and found 7 of 37 blinks). As MediaPipe's attention
mesh and OpenFace's eye model do, a second stage looks again at each region
at a higher resolution: from the face network's points, each eye and the
mouth get a patch of their own, upright in the face's frame (x along the
outer eye corners), and a small CNN places that region's points on it:

- an eye patch (:data:`EYE_SIZE` px) spans :data:`EYE_SPAN` eye distances
  around the eye's six points, so an open eye is about 9 px high; the left
  eye is mirrored to look like a right one, so one network serves both;
- the mouth patch (:data:`MOUTH_SIZE` px) spans :data:`MOUTH_SPAN` eye
  distances around the 20 lip points.

Both networks run in one ONNX graph (``vidkeys_regions.onnx``, float, about
0.1 ms a face on the CPU) and replace points 36-47 and 48-67. The trained
weights and how they were made: saved_models/README.md, "Eyes and mouth".
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.faces.crop import apply_matrix, crop, invert_matrix
from vidkeys.keypoints.predictor import _onnx_session
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS, check_model_file

#: Eye patch side (px) and span (outer-eye-corner distances).
EYE_SIZE, EYE_SPAN = 48, 0.6
#: Mouth patch side (px) and span (outer-eye-corner distances).
MOUTH_SIZE, MOUTH_SPAN = 64, 1.2
#: The right eye's points, and the left eye's in the order that mirrors them onto it.
RIGHT_EYE = np.arange(36, 42)
LEFT_EYE_MIRRORED = np.array([45, 44, 43, 42, 47, 46])
MOUTH = np.arange(48, 68)
#: Every point this stage places: both eyes and the mouth.
REGION_POINTS = np.arange(36, 68)
#: The mouth's points mirrored onto themselves (training mirrors mouths).
MOUTH_FLIP = (
    np.array([54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65]) - 48
)


def _region_matrix(centre: np.ndarray, axis: np.ndarray, side: float, size: int, mirror: bool):
    """2x3 matrix from image pixels to a ``size`` patch of ``side`` px centred on
    ``centre``, its x along the unit ``axis`` (flipped left-right when ``mirror``)."""
    k = size / side
    ux, uy = axis
    sx = -k if mirror else k
    # Rows: patch x = sx * (p - c) . u, patch y = k * (p - c) . v, v = (-uy, ux).
    m = np.array([[sx * ux, sx * uy, 0.0], [-k * uy, k * ux, 0.0]])
    m[:, 2] = size / 2 - m[:, :2] @ centre
    return m


def region_matrices(points: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """The eye patches' matrices (right, left mirrored; ``2n``) and the mouth's (``n``)
    for ``(n, 68, 2)`` points in image pixels."""
    eyes, mouths = [], []
    for p in np.asarray(points, np.float64):
        axis = p[45] - p[36]
        dist = max(float(np.hypot(*axis)), 1e-6)
        axis = axis / dist
        eyes.append(_region_matrix(p[RIGHT_EYE].mean(0), axis, EYE_SPAN * dist, EYE_SIZE, False))
        eyes.append(
            _region_matrix(p[LEFT_EYE_MIRRORED].mean(0), axis, EYE_SPAN * dist, EYE_SIZE, True)
        )
        mouths.append(_region_matrix(p[MOUTH].mean(0), axis, MOUTH_SPAN * dist, MOUTH_SIZE, False))
    return eyes, mouths


def cut_regions(
    gray: np.ndarray | list[np.ndarray], points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], list[np.ndarray]]:
    """Eye patches ``(2n, EYE_SIZE, EYE_SIZE)``, mouth patches ``(n, MOUTH_SIZE, MOUTH_SIZE)``
    and their matrices, of ``n`` faces in one grey image (or one image per face)."""
    images = gray if isinstance(gray, list) else [gray] * len(points)
    eye_m, mouth_m = region_matrices(points)
    eyes = [crop(images[i // 2], m, EYE_SIZE) for i, m in enumerate(eye_m)]
    mouths = [crop(im, m, MOUTH_SIZE) for im, m in zip(images, mouth_m, strict=True)]
    return (
        np.stack(eyes) if eyes else np.zeros((0, EYE_SIZE, EYE_SIZE), np.uint8),
        np.stack(mouths) if mouths else np.zeros((0, MOUTH_SIZE, MOUTH_SIZE), np.uint8),
        eye_m,
        mouth_m,
    )


def region_points(
    points: np.ndarray, eye_m: list[np.ndarray], mouth_m: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """The region points of ``(n, 68, 2)`` image points in the pixels of the patches
    of ``eye_m`` and ``mouth_m``: eyes ``(2n, 6, 2)`` (right, left mirrored), mouths
    ``(n, 20, 2)``."""
    points = np.asarray(points, np.float64)
    eyes = [
        apply_matrix(m, points[i // 2, RIGHT_EYE if i % 2 == 0 else LEFT_EYE_MIRRORED])
        for i, m in enumerate(eye_m)
    ]
    mouths = [apply_matrix(m, p[MOUTH]) for m, p in zip(mouth_m, points, strict=True)]
    return np.array(eyes).reshape(-1, 6, 2), np.array(mouths).reshape(-1, 20, 2)


def patch_points(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`region_points` in the patches the points themselves cut (training's
    targets, and what the networks start from)."""
    return region_points(points, *region_matrices(points))


def place_regions(
    points: np.ndarray,
    eyes: np.ndarray,
    mouths: np.ndarray,
    eye_m: list[np.ndarray],
    mouth_m: list[np.ndarray],
) -> np.ndarray:
    """``points`` with 36-67 replaced by patch points mapped back to the image."""
    out = np.array(points, np.float64, copy=True)
    for i, (m, e) in enumerate(zip(eye_m, eyes, strict=True)):
        out[i // 2, RIGHT_EYE if i % 2 == 0 else LEFT_EYE_MIRRORED] = apply_matrix(
            invert_matrix(m), e
        )
    for i, (m, q) in enumerate(zip(mouth_m, mouths, strict=True)):
        out[i, MOUTH] = apply_matrix(invert_matrix(m), q)
    return out


#: Corners in each patch's point order (eye: outer, inner; mouth: outer and inner lip
#: corners).
EYE_CORNERS, MOUTH_CORNERS = [0, 3], [0, 6, 12, 16]


def openings(init: np.ndarray, placed: np.ndarray, corners: list[int]) -> np.ndarray:
    """The region networks' points ``placed``, each but the ``corners`` put back at the
    face network's place along the patch (x, from ``init``): across it (y: how far lids
    and lips are apart) and at the corners the networks are kept.

    The face network places its lid and lip points along the eye and mouth in the
    labels' way; the patch networks, which also learnt MediaPipe's lids and lips, are
    the ones that see how open they are. Kept for what each knows, the held-out
    people's points come closer to their labels with the same openings, and the
    blinks and eye openings on real clips are unchanged (model card, "What was
    tried"); the corners stay the networks' because the eye opening is measured
    against them."""
    out = np.array(placed, np.float64, copy=True)
    inner = np.setdiff1d(np.arange(out.shape[1]), corners)
    out[:, inner, 0] = init[:, inner, 0]
    return out


def place_answers(
    points: np.ndarray,
    eye_init: np.ndarray,
    mouth_init: np.ndarray,
    eyes: np.ndarray,
    mouths: np.ndarray,
    eye_m: list[np.ndarray],
    mouth_m: list[np.ndarray],
) -> np.ndarray:
    """``points`` with the region networks' answers (patch pixels) put in: kept as
    :func:`openings` says, then mapped back to the image. The served graph and the
    training's validation both place their answers here."""
    eyes = openings(eye_init, eyes, EYE_CORNERS)
    mouths = openings(mouth_init, mouths, MOUTH_CORNERS)
    return place_regions(points, eyes, mouths, eye_m, mouth_m)


def default_regions() -> Path:
    """The shipped region graph, beside the face network's weights."""
    return DEFAULT_WEIGHTS.with_name("vidkeys_regions.onnx")


class RegionRefiner:
    """Replaces each face's eye and mouth points by the region networks' (ONNX Runtime).

    ``graph``: an ONNX graph with inputs ``eyes`` ``(2n, 1, EYE_SIZE, EYE_SIZE)``
    and ``mouths`` ``(n, 1, MOUTH_SIZE, MOUTH_SIZE)`` (grey levels as floats),
    and ``eye_init`` ``(2n, 6, 2)`` and ``mouth_init`` ``(n, 20, 2)`` (the face
    network's points on them), and outputs ``eye_points`` ``(2n, 6, 2)`` and
    ``mouth_points`` ``(n, 20, 2)``, all points in patch pixels.
    """

    def __init__(self, graph: Path | str | None = None, threads: int | None = None) -> None:
        self.graph = Path(graph) if graph else default_regions()
        check_model_file(self.graph, "eye and mouth graph")
        try:
            # No busy-waiting between calls: the decoding thread needs the core.
            self._session = _onnx_session(self.graph, threads, spin=False)
        except Exception as exc:  # a broken file
            raise VidkeysError(f"cannot run eye and mouth graph {self.graph}: {exc}") from exc
        names = [i.name for i in self._session.get_inputs()]
        if names != ["eyes", "eye_init", "mouths", "mouth_init"]:
            raise VidkeysError(f"{self.graph} is not a vidkeys eye and mouth graph ({names})")

    def patches(
        self, eyes: np.ndarray, eye_init: np.ndarray, mouths: np.ndarray, mouth_init: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The networks' points on ``uint8`` patches, from the face network's, in patch pixels."""
        feed = {
            "eyes": np.ascontiguousarray(eyes, np.float32)[:, None],
            "eye_init": np.ascontiguousarray(eye_init, np.float32),
            "mouths": np.ascontiguousarray(mouths, np.float32)[:, None],
            "mouth_init": np.ascontiguousarray(mouth_init, np.float32),
        }
        eye_pts, mouth_pts = self._session.run(None, feed)
        return eye_pts.astype(np.float64), mouth_pts.astype(np.float64)

    def __call__(self, gray: np.ndarray | list[np.ndarray], points: np.ndarray) -> np.ndarray:
        """``(n, 68, 2)`` image points with their eyes and mouth placed again."""
        if len(points) == 0:
            return np.asarray(points, np.float64)
        eyes, mouths, eye_m, mouth_m = cut_regions(gray, points)
        eye_init, mouth_init = region_points(points, eye_m, mouth_m)
        eye_pts, mouth_pts = self.patches(eyes, eye_init, mouths, mouth_init)
        return place_answers(points, eye_init, mouth_init, eye_pts, mouth_pts, eye_m, mouth_m)


@functools.lru_cache(maxsize=2)
def shared_refiner(graph: Path | str | None = None, threads: int | None = None) -> RegionRefiner:
    """One refiner per graph and thread count, reused by this process."""
    return RegionRefiner(graph, threads)
