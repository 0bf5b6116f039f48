"""YuNet, the default face detector: a small CNN that OpenCV runs itself.

``cv2.FaceDetectorYN`` runs the ONNX graph shipped in ``vidkeys.saved_models``
(MIT, Shiqi Yu; ``LICENSE-yunet`` beside it), checked against its sha256 on
load; ``--detector-model`` takes another YuNet graph. Per face it gives a
box, five points and a score. It finds faces from about 10 px to about 300 px
wide in the image it is given, turned, rolled, dark or half covered ones
included, at a fraction of Haar's CPU time, so the plan is: the frame shrunk
(as Haar's, to half its width within 320-960 px), then the full-resolution
frame in tiles for faces too small for that, and the frame shrunk further
where a face could be too large for it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import numpy as np

from vidkeys.config import DetectorConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.detect import (
    Detections,
    SearchJob,
    SlicedSearch,
    auto_detect_width,
    interleave,
    tiles,
)
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS, check_model_file

MODEL_FILE = "face_detection_yunet_2023mar.onnx"
MODEL_SHA256 = "8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4"
#: The shipped graph, beside the keypoint weights in ``vidkeys.saved_models``.
SHIPPED_MODEL = DEFAULT_WEIGHTS.parent / MODEL_FILE

#: Faces narrower than this (px, in the image YuNet sees) are found less
#: reliably, so the fine slices see the frame at twice the detection scale.
SMALL = 20
#: A fine slice larger than this (pixels) is cut into 2 x 2 tiles.
TILE_ABOVE = 1280 * 720

#: Images smaller than this (px, either side) are not searched.
MIN_INPUT = 16
#: Overlapping boxes of one face are merged by YuNet at this IoU.
NMS_IOU = 0.3


def load_model(path: Path | str | None, min_score: float) -> cv2.FaceDetectorYN:
    """OpenCV's YuNet runner over ``path`` (None: the shipped graph), checked.

    The shipped graph must match its sha256 (a damaged install says so); any
    graph must load and answer a blank frame as YuNet does, or the one error
    line names the file and what is wrong.
    """
    shipped = path is None
    path = Path(SHIPPED_MODEL if path is None else path)
    check_model_file(path, "detector model")
    data = path.read_bytes()
    if shipped and hashlib.sha256(data).hexdigest() != MODEL_SHA256:
        raise VidkeysError(
            f"the shipped detector model {path} is damaged (sha256 differs); reinstall vidkeys"
        )
    try:
        model = cv2.FaceDetectorYN.create(str(path), "", (64, 64), min_score, NMS_IOU, 5000)
        _, faces = model.detect(np.zeros((64, 64, 3), np.uint8))
    except cv2.error as e:
        reason = str(e).strip().splitlines()[-1] if str(e).strip() else "OpenCV cannot run it"
        raise VidkeysError(f"{path} is not a YuNet face-detector graph: {reason}") from None
    if faces is not None and np.shape(faces)[-1] != 15:
        raise VidkeysError(f"{path} is not a YuNet face-detector graph: wrong output shape")
    return model


def yunet_plan(config: DetectorConfig, width: int, height: int) -> list[SearchJob]:
    """The slices that together search a ``width x height`` frame with YuNet.

    YuNet finds a face best within a band of sizes, and which band depends on
    the face (held-out people: a rolled face is found more often at twice
    the size, a dark, noisy one at half), so the frame is searched at three
    scales: the detection scale (the frame shrunk to the detection width)
    every other slice; half of it (large faces; noise averaged away); twice
    it (small faces; faces rolled far), in 2 x 2 overlapping tiles where
    that image is larger than :data:`TILE_ABOVE` pixels, so a slice costs
    about one whole-frame search. Twice the scale is above 1 for frames under
    640 px wide: they are enlarged.
    """
    scale = min(1.0, (config.detect_width or auto_detect_width(width)) / width)
    fine = 2 * scale
    # Tiles overlap by the width (frame px) of the faces the fine slices are for.
    biggest = int(np.ceil(2 * SMALL / scale))
    others = [SearchJob("yunet", scale=scale / 2)]
    if width * height * fine**2 <= TILE_ABOVE:
        others.append(SearchJob("yunet", scale=fine))
    else:
        others += [
            SearchJob("yunet", scale=fine, region=r) for r in tiles(width, height, 0.5, biggest)
        ]
    return interleave(SearchJob("yunet", scale=scale), others)


class YuNetSearch(SlicedSearch):
    """YuNet over a frame, whole or in slices (not thread-safe: one call at a time);
    overlapping faces of several slices keep the best-scored one."""

    by_score = True

    def __init__(self, config: DetectorConfig | None = None) -> None:
        super().__init__(config or DetectorConfig())
        if not 0.0 < self.config.min_score < 1.0:
            raise VidkeysError(f"min score must be in (0, 1), got {self.config.min_score}")
        self._model = load_model(self.config.detector_model, self.config.min_score)

    def _plan(self, width: int, height: int) -> list[SearchJob]:
        return yunet_plan(self.config, width, height)

    def _run(self, gray: np.ndarray, job: SearchJob) -> Detections:
        x0, y0 = 0, 0
        image = gray
        if job.region is not None:
            x0, y0, x1, y1 = job.region
            image = gray[y0:y1, x0:x1]
        h, w = image.shape[:2]
        if job.scale != 1.0:
            size = (max(1, round(w * job.scale)), max(1, round(h * job.scale)))
            shrink = cv2.INTER_AREA if job.scale < 1.0 else cv2.INTER_LINEAR
            image = cv2.resize(image, size, interpolation=shrink)
        if min(image.shape[:2]) < MIN_INPUT:
            return Detections.empty()  # too small to hold a face YuNet can find
        # YuNet takes BGR; a grey frame (what the pipeline decodes) goes in as
        # three equal channels.
        bgr = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image
        self._model.setInputSize((bgr.shape[1], bgr.shape[0]))
        _, faces = self._model.detect(np.ascontiguousarray(bgr))
        if faces is None or not len(faces):
            return Detections.empty()
        faces = faces.astype(np.float64)
        offset = np.array([x0, y0], np.float64)
        boxes = faces[:, :4] / job.scale
        boxes[:, :2] += offset
        marks = faces[:, 4:14].reshape(-1, 5, 2) / job.scale + offset
        found = Detections(boxes, marks, faces[:, 14])
        found = found[_sane(found, gray.shape)]
        if job.region is not None:
            found = found[~_cut_by_tile(found.boxes, job.region, gray.shape)]
        return found


def _sane(found: Detections, shape: tuple) -> np.ndarray:
    """Detections with finite numbers, a real size and a centre inside the frame.

    On tiny or flat images YuNet can answer with non-finite or absurd boxes;
    they must never reach the crop rule.
    """
    h, w = shape[:2]
    b = found.boxes
    finite = np.isfinite(b).all(axis=1) & np.isfinite(found.landmarks).all(axis=(1, 2))
    with np.errstate(invalid="ignore", over="ignore"):
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        return (
            finite
            & (b[:, 2] >= 2)
            & (b[:, 3] >= 2)
            & (cx >= 0)
            & (cx <= w)
            & (cy >= 0)
            & (cy <= h)
            & (b[:, 2] <= 2 * max(w, h))
        )


def _cut_by_tile(boxes: np.ndarray, region: tuple[int, int, int, int], shape: tuple) -> np.ndarray:
    """Boxes that reach a tile's inner edge (not the frame's): faces the tile cuts
    in two, found whole by the neighbouring tile or the whole-frame slices."""
    x0, y0, x1, y1 = region
    h, w = shape[:2]
    margin = 2.0
    left = (x0 > 0) & (boxes[:, 0] <= x0 + margin)
    top = (y0 > 0) & (boxes[:, 1] <= y0 + margin)
    right = (x1 < w) & (boxes[:, 0] + boxes[:, 2] >= x1 - margin)
    bottom = (y1 < h) & (boxes[:, 1] + boxes[:, 3] >= y1 - margin)
    return left | top | right | bottom
