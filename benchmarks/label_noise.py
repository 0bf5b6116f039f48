"""How noisy are the labels? Neighbouring frames of one video, labels against the model.

    python benchmarks/label_noise.py [--data DIR] [--model WEIGHTS]

youtube-faces-68 holds runs of neighbouring frames of one video
(``NAME_00``, ``NAME_01``, ...). For each such pair the model places the
points on both frames (crops from the labels, two passes, mirror test). What
the face really did between the frames moves the labels and the model's points
alike; what the annotator did differently on the second frame moves only the
labels. So the change of (label - model) from one frame to the next, divided
by sqrt 2 (two frames' independent noise), estimates the labels' own noise as
NME per image: an upper bound, because the model's error also changes a
little between frames. The bound is tightest where the face barely moved
(the model's points move under 5 % of the eye distance). A network that
placed every point exactly would still score about this NME against these
labels. Printed per split and per size of the movement.
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path

import numpy as np

from vidkeys.crop import box_from_points
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.data import load_images, read_keypoints_csv, split_people
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import LEFT_EYE_OUTER, RIGHT_EYE_OUTER

_FRAME = re.compile(r"^(.*_)(\d+)(\.\w+)$")
#: Bins of how far the model's points move between the two frames (eye distances).
MOVES = ((0.0, 0.05), (0.05, 0.1), (0.1, 0.2), (0.2, np.inf))


def neighbours(names: list[str]) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``: frame ``NAME_KK`` and ``NAME_KK+1`` of the same run."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, name in enumerate(names):
        m = _FRAME.match(name)
        if m:
            number = int(m.group(2))
            following = f"{m.group(1)}{number + 1:0{len(m.group(2))}d}{m.group(3)}"
            # Runs are numbered by tens (_00-_02, _10-_12, ...): _09 and _10 are not neighbours.
            if following in index and number // 10 == (number + 1) // 10:
                pairs.append((i, index[following]))
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    parser.add_argument("--model", type=Path, default=None)
    args = parser.parse_args()
    if args.data is None:
        raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
    samples = read_keypoints_csv(args.data / "training_frames_keypoints.csv")
    _, val = split_people(samples)
    held_out = set(val)
    images = load_images(samples, args.data / "training")
    labels = np.stack([s.points for s in samples])
    boxes = [box_from_points(p) for p in labels]
    points, _, _ = place_points(KeypointPredictor(args.model, "cpu"), images, boxes)
    rows = []
    for i, j in neighbours([s.name for s in samples]):
        eye = np.linalg.norm(labels[i, LEFT_EYE_OUTER] - labels[i, RIGHT_EYE_OUTER])
        change = (labels[i] - points[i]) - (labels[j] - points[j])
        rows.append(
            (
                i in held_out,
                np.linalg.norm(change, axis=1).mean() / eye / np.sqrt(2),
                np.linalg.norm(labels[i] - labels[j], axis=1).mean() / eye,
                np.linalg.norm(points[i] - points[j], axis=1).mean() / eye,
            )
        )
    table = np.array(rows, dtype=np.float64)
    print("split     model moves   pairs   labels move   label noise (NME, upper bound)")
    for split, flag in (("training", 0.0), ("held-out", 1.0)):
        part = table[table[:, 0] == flag]
        for low, high in (*MOVES, (0.0, np.inf)):
            sel = part[(part[:, 3] >= low) & (part[:, 3] < high)]
            if len(sel):
                span = "all" if (low, high) == (0.0, np.inf) else f"{low:.2f}-{high:.2f}"
                print(
                    f"{split:9} {span:>11} {len(sel):>7} {100 * sel[:, 2].mean():>11.1f} % "
                    f"{100 * sel[:, 1].mean():>10.2f} %"
                )


if __name__ == "__main__":
    main()
