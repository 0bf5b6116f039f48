"""The built-in overlays, drawn here in code (no image files to ship or license).

Each drawing returns a straight-alpha BGRA image and its two anchor points:
the overlay pixels that :mod:`vidkeys.outputs.overlay` puts onto two points of the
face (eye centres for the glasses, mouth corners for the moustache, the brim
ends for the hat). Shapes are drawn at 4x and shrunk with area averaging,
which gives smooth, anti-aliased edges in colour and alpha alike.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

_SUPER = 4  # supersampling factor


def _canvas(width: int, height: int) -> np.ndarray:
    return np.zeros((height * _SUPER, width * _SUPER, 4), np.uint8)


def _poly(points: np.ndarray) -> list[np.ndarray]:
    return [np.round(np.asarray(points) * _SUPER).astype(np.int32)]


def _finish(canvas: np.ndarray) -> np.ndarray:
    """Shrink the supersampled canvas; colours are averaged weighted by alpha."""
    alpha = canvas[..., 3:].astype(np.float32) / 255.0
    premult = canvas[..., :3].astype(np.float32) * alpha
    size = (canvas.shape[1] // _SUPER, canvas.shape[0] // _SUPER)
    small_rgb = cv2.resize(premult, size, interpolation=cv2.INTER_AREA)
    small_a = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)[..., None]
    rgb = np.where(small_a > 1e-3, small_rgb / np.maximum(small_a, 1e-3), 0.0)
    return np.concatenate([rgb, small_a * 255.0], axis=2).round().clip(0, 255).astype(np.uint8)


def _superellipse(cx: float, cy: float, a: float, b: float, p: float = 3.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = cx + a * np.sign(c) * np.abs(c) ** (2 / p)
    y = cy + b * np.sign(s) * np.abs(s) ** (2 / p)
    return np.stack([x, y], 1)


def sunglasses() -> tuple[np.ndarray, np.ndarray]:
    """Dark lenses in a black frame; anchors: the lens centres."""
    w, h = 600, 220
    lenses = [(165.0, 110.0), (435.0, 110.0)]
    img = _canvas(w, h)
    black = (15, 15, 15, 255)
    for cx, cy in lenses:
        outline = _poly(_superellipse(cx, cy, 122, 86))
        cv2.fillPoly(img, outline, (60, 40, 25, 225), cv2.LINE_AA)
        stripe = [(cx - 80, cy - 35), (cx - 62, cy - 55), (cx - 5, cy + 5), (cx - 23, cy + 25)]
        cv2.fillPoly(img, _poly(stripe), (125, 110, 95, 225), cv2.LINE_AA)  # a reflection
        cv2.polylines(img, outline, True, black, 12 * _SUPER, cv2.LINE_AA)
    bridge = np.stack([np.linspace(280, 320, 20), 92 - 14 * np.sin(np.linspace(0, np.pi, 20))], 1)
    cv2.polylines(img, _poly(bridge), False, black, 12 * _SUPER, cv2.LINE_AA)
    for x0, x1 in ((47, 6), (553, 594)):
        cv2.line(img, (x0 * _SUPER, 88 * _SUPER), (x1 * _SUPER, 76 * _SUPER), black, 12 * _SUPER)
    return _finish(img), np.array(lenses)


def moustache() -> tuple[np.ndarray, np.ndarray]:
    """A curled handlebar moustache; anchors: where the mouth corners go."""
    w, h = 400, 150
    img = _canvas(w, h)
    u = np.linspace(0, 1, 60)
    centre = 62 + 60 * u - 80 * u**2  # dips, then curls up at the tips
    thick = 46 * (1 - u) ** 0.8 + 5
    notch = 8 * np.exp(-((u / 0.06) ** 2))  # the parting under the nose
    x = 200 + 185 * u
    right = np.concatenate(
        [np.stack([x, centre - thick / 2 + notch], 1), np.stack([x, centre + thick / 2], 1)[::-1]]
    )
    left = right * [-1, 1] + [w, 0]
    for half in (right, left):
        cv2.fillPoly(img, _poly(half), (25, 40, 70, 255), cv2.LINE_AA)
    return _finish(img), np.array([[110.0, 75.0], [290.0, 75.0]])


def hat() -> tuple[np.ndarray, np.ndarray]:
    """A black top hat with a red band; anchors: the ends of the brim."""
    w, h = 460, 420
    img = _canvas(w, h)
    s = _SUPER
    crown = _poly([(115, 385), (345, 385), (355, 45), (105, 45)])
    cv2.fillPoly(img, crown, (30, 30, 30, 255), cv2.LINE_AA)
    band = _poly([(113, 372), (347, 372), (349, 325), (111, 325)])
    cv2.fillPoly(img, band, (40, 30, 160, 255), cv2.LINE_AA)
    cv2.ellipse(img, (230 * s, 45 * s), (125 * s, 18 * s), 0, 0, 360, (60, 60, 60, 255), -1)
    cv2.ellipse(img, (230 * s, 388 * s), (226 * s, 28 * s), 0, 0, 360, (20, 20, 20, 255), -1)
    return _finish(img), np.array([[30.0, 400.0], [430.0, 400.0]])


#: name -> (drawing, where on the face it goes)
BUILTINS: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], str]] = {
    "sunglasses": (sunglasses, "eyes"),
    "moustache": (moustache, "mouth"),
    "hat": (hat, "head"),
}
