"""Make a benchmark video: N moving copies of the shipped astronaut face on a plain set.

    python benchmarks/make_video.py OUT.mp4 [--size 1920x1080] [--faces 6] [--seconds 60]

Each face drifts and zooms slowly on its own path, like people in an
interview or panel shot; the file is H.264 at 30 fps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
PHOTO = REPO / "samples" / "astronaut.png"
FACE = (150, 40, 150, 170)  # x, y, w, h of the head in the photo, with margin


def make_video(out: Path, width: int, height: int, faces: int, seconds: float, fps: int = 30):
    """Write the video; returns the number of frames."""
    photo = cv2.imread(str(PHOTO))
    x, y, w, h = FACE
    head = photo[y : y + h, x : x + w]
    rng = np.random.default_rng(0)
    cols = int(np.ceil(np.sqrt(faces * width / height)))
    rows = int(np.ceil(faces / cols))
    cell_w, cell_h = width / cols, height / rows
    base = 0.55 * min(cell_w / w, cell_h / h)
    phase = rng.uniform(0, 2 * np.pi, (faces, 3))
    n = round(seconds * fps)
    background = np.full((height, width, 3), (60, 70, 80), np.uint8)
    with av.open(str(out), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        for i in range(n):
            t = i / fps
            frame = background.copy()
            for k in range(faces):
                r, c = divmod(k, cols)
                s = base * (1 + 0.15 * np.sin(0.4 * t + phase[k, 0]))
                fw, fh = round(w * s), round(h * s)
                cx = (c + 0.5) * cell_w + 0.1 * cell_w * np.sin(0.5 * t + phase[k, 1])
                cy = (r + 0.5) * cell_h + 0.1 * cell_h * np.sin(0.3 * t + phase[k, 2])
                x0, y0 = round(cx - fw / 2), round(cy - fh / 2)
                x0, y0 = min(max(x0, 0), width - fw), min(max(y0, 0), height - fh)
                frame[y0 : y0 + fh, x0 : x0 + fw] = cv2.resize(head, (fw, fh))
            av_frame = av.VideoFrame.from_ndarray(frame, format="bgr24")
            container.mux(stream.encode(av_frame))
        container.mux(stream.encode())
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--faces", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    n = make_video(args.out, width, height, args.faces, args.seconds)
    print(f"wrote {args.out}: {n} frames, {width}x{height}, {args.faces} faces")


if __name__ == "__main__":
    main()
