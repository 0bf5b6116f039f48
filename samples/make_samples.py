"""Make the shipped samples from scikit-image's public-domain astronaut photo.

    python samples/make_samples.py      (needs scikit-image, in the dev extra)

Writes, next to this script:
- ``astronaut.png``: the photo (NASA, public domain), 512 x 512.
- ``astronaut.mp4``: 640 x 360, 30 fps, 4 s, H.264 + AAC (a quiet 440 Hz tone):
  a scripted camera pans, zooms and rolls over the photo.
- ``astronaut_path.csv``: per frame, the 2x3 affine matrix that maps photo
  pixels to frame pixels, so tests know where every face point truly is.
"""

from __future__ import annotations

import csv
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT, FPS, SECONDS = 640, 360, 30, 4
FACE_CENTRE = np.array([225.0, 125.0])  # roughly the nose in the photo


def camera(t: float) -> np.ndarray:
    """Photo -> frame affine at time ``t`` in [0, 1]: zoom 0.75-1.15, pan, roll +-15 deg."""
    zoom = 0.75 + 0.4 * np.sin(np.pi * t) ** 2
    roll = np.deg2rad(15.0 * np.sin(2 * np.pi * t))
    centre = np.array(
        [WIDTH / 2 + 120 * np.sin(2 * np.pi * t), HEIGHT / 2 + 25 * np.sin(4 * np.pi * t)]
    )
    c, s = zoom * np.cos(roll), zoom * np.sin(roll)
    rot = np.array([[c, -s], [s, c]])
    return np.hstack([rot, (centre - rot @ FACE_CENTRE)[:, None]])


def main() -> None:
    import cv2
    from skimage import data

    photo = np.ascontiguousarray(data.astronaut())  # RGB uint8
    cv2.imwrite(str(HERE / "astronaut.png"), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    n = FPS * SECONDS
    rate = 44100
    with (
        av.open(str(HERE / "astronaut.mp4"), "w") as out,
        open(HERE / "astronaut_path.csv", "w", newline="") as f,
    ):
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.options = {"crf": "23", "preset": "medium"}
        audio = out.add_stream("aac", rate=rate)
        audio.layout = "mono"
        writer = csv.writer(f)
        writer.writerow(["frame", "a11", "a12", "a13", "a21", "a22", "a23"])
        for i in range(n):
            m = camera(i / (n - 1))
            writer.writerow([i, *np.round(m.ravel(), 6)])
            frame = cv2.warpAffine(
                photo,
                m,
                (WIDTH, HEIGHT),
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=(30, 30, 30),
            )
            out.mux(video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        for p in video.encode():
            out.mux(p)
        t = np.arange(rate * SECONDS) / rate
        tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
        for start in range(0, len(tone), 1024):
            chunk = tone[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            frame.time_base = Fraction(1, rate)
            out.mux(audio.encode(frame))
        for p in audio.encode():
            out.mux(p)
    print(f"wrote {HERE / 'astronaut.mp4'} ({n} frames), astronaut.png, astronaut_path.csv")


if __name__ == "__main__":
    main()
