"""Cuts between people on a slideshow of labelled faces: ids carried over, NME by frame after a cut.

    python benchmarks/bench_video_nme.py [--data DIR] [--hold 5] [--limit N] [--no-smooth]
        [--canvas blurred|black] [--model WEIGHTS] [-- EXTRA PIPELINE OPTIONS]

The held-out people of ``youtube-faces-68`` (``--data``, default
``$VIDKEYS_DATA``), each image shown for ``--hold`` frames on a 640x480 canvas
(scaled to a random height of 240-480 px, placed at random), labels moved
with the image. ``--canvas blurred`` fills the rest of the canvas with a
blurred, stretched copy of the image, so every change of image is a scene
cut; ``black`` leaves it black, so most of the frame stays the same across a
change of person. Prints the share of changes of image where a face id found
on the previous image is on the new one (an id carried to another person),
the NME (% of the outer-eye-corner distance) by frame after the change and
overall, the share of failures (NME > 10 % or no face found), and the same
figures for each canvas run alone as a still image through the same pipeline.
Extra options go to ``vidkeys.process`` (``-- --detector haar``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import cv2
import numpy as np

import vidkeys
from vidkeys.training.data import held_out_people
from vidkeys.training.metrics import FAILURE_THRESHOLD, nme

CANVAS = (640, 480)


def compose(image: np.ndarray, points: np.ndarray, rng: np.random.Generator, black: bool):
    """The image on a canvas, and its labels moved with it."""
    w, h = CANVAS
    k = rng.uniform(240, 480) / image.shape[0]
    k = min(k, w / image.shape[1])
    small = cv2.resize(image, None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
    if black:
        canvas = np.zeros((h, w), image.dtype)
    else:
        canvas = cv2.GaussianBlur(cv2.resize(image, CANVAS), (0, 0), 15)
    x0 = int(rng.integers(0, w - small.shape[1] + 1))
    y0 = int(rng.integers(0, h - small.shape[0] + 1))
    canvas[y0 : y0 + small.shape[0], x0 : x0 + small.shape[1]] = small
    return canvas, points * k + (x0, y0)


def nearest(faces: vidkeys.Faces, truth: np.ndarray) -> int | None:
    """Index of the face nearest the labelled one (None when none is near)."""
    if len(faces) == 0:
        return None
    dist = np.linalg.norm(faces.points.mean(axis=1) - truth.mean(axis=0), axis=1)
    i = int(np.argmin(dist))
    return i if dist[i] <= np.linalg.norm(truth[36] - truth[45]) else None


def frame_error(faces: vidkeys.Faces, truth: np.ndarray) -> float:
    """NME of the face nearest the labelled one (inf when none is near)."""
    i = nearest(faces, truth)
    if i is None:
        return float("inf")
    return float(nme(faces.points[i][None], truth[None])[0])


def parse_extra(extra: list[str]) -> dict[str, object]:
    """``--name value`` pairs as ``vidkeys.process`` options (numbers as numbers)."""
    options: dict[str, object] = {}
    for flag, value in zip(extra[::2], extra[1::2], strict=True):
        try:
            options[flag.lstrip("-").replace("-", "_")] = (
                float(value) if "." in value else int(value)
            )
        except ValueError:
            options[flag.lstrip("-").replace("-", "_")] = value
    return options


def summary(errors: np.ndarray) -> str:
    found = errors[np.isfinite(errors)]
    fail = float(np.mean(~(errors <= FAILURE_THRESHOLD))) if errors.size else float("nan")
    return (
        f"NME {100 * found.mean():5.2f} % (median {100 * np.median(found):5.2f} %)  "
        f"failures {100 * fail:5.2f} %  (n={errors.size})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--hold", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0, help="images (0: all held-out)")
    parser.add_argument("--no-smooth", action="store_true")
    parser.add_argument("--canvas", choices=("blurred", "black"), default="blurred")
    parser.add_argument("--model", type=Path, default=None, help="weights (default: shipped)")
    args, extra = parser.parse_known_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    samples, images = held_out_people(args.data, args.limit)
    rng = np.random.default_rng(0)
    black = args.canvas == "black"
    shows = [compose(im, s.points, rng, black) for im, s in zip(images, samples, strict=True)]
    frames = (canvas for canvas, _ in shows for _ in range(args.hold))
    options: dict = {"smooth": False} if args.no_smooth else {}
    options.update(parse_extra([a for a in extra if a != "--"]))
    if args.model is not None:
        options["weights"] = args.model
    run = vidkeys.process(frames, **options)
    errors = np.full((len(shows), args.hold), np.inf)
    ids: list[set[int]] = [set() for _ in shows]  # every id found on each image
    first: list[int | None] = [None] * len(shows)  # the labelled face's id on its first frame
    for result in run:
        i, j = divmod(result.index, args.hold)
        errors[i, j] = frame_error(result.faces, shows[i][1])
        ids[i].update(int(f) for f in result.faces.face_id)
        k = nearest(result.faces, shows[i][1])
        if j == 0 and k is not None:
            first[i] = int(result.faces.face_id[k])
    carried = sum(first[i] is not None and first[i] in ids[i - 1] for i in range(1, len(shows)))
    still = np.array(
        [frame_error(next(iter(vidkeys.process([c], **options))).faces, p) for c, p in shows]
    )
    print(
        f"slideshow: {len(shows)} held-out faces, {args.hold} frames each, 640x480, "
        f"{args.canvas} canvas {' '.join(extra)}".rstrip()
    )
    print(
        f"ids carried to another person: {carried} of {len(shows) - 1} changes "
        f"({100 * carried / max(1, len(shows) - 1):.1f} %)"
    )
    for j in range(args.hold):
        print(f"frame {j} after the cut: {summary(errors[:, j])}")
    print(f"all frames:             {summary(errors.ravel())}")
    print(f"same faces as stills:   {summary(still)}")


if __name__ == "__main__":
    main()
