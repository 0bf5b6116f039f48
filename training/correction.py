"""Fit a weights file's shape correction on the training people's faces.

    python -m vidkeys.training.correction --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training --model saved_models/vidkeys68.pt

Places every training face as ``vidkeys eval`` does (Haar box, or the box of
its labels where Haar finds none; two passes; the mirror test), without any
correction, then fits
:class:`vidkeys.correction.ShapeCorrection`: how the points miss the labels,
as a linear function of the points' shape, both in the face's own frame.
Held-out people are left out, so ``vidkeys eval --split val`` measures it
on faces no step has seen. The correction is stored in the weights' metadata
and their graph is rewritten, 32-bit (``make train`` then makes it 8-bit with
:mod:`vidkeys.training.quantize`). Needs the ``train`` extra.
"""

from __future__ import annotations

import numpy as np

from vidkeys.correction import META_KEY, ShapeCorrection, to_face
from vidkeys.errors import VidkeysError
from vidkeys.predictor import KeypointPredictor
from vidkeys.training.data import training_people_faces, weights_step_parser
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import nme

#: Principal directions of the shape the correction reads. Five-fold
#: cross-validation over the training people: 4 directions take 3.564 % to
#: 3.515 %, 32 to 3.502 %, all 136 to 3.501 %.
RANK = 32
#: Crops per CNN call: bounded memory (a teacher-sized network given all
#: 3,117 training faces at once needed more than this 24 GiB machine has).
CHUNK = 256
#: Ridge penalty of the fit (face-frame units; the same cross-validation: 0.1-10 within 0.003).
RIDGE = 1.0


def fit_correction(
    points: np.ndarray, truth: np.ndarray, rank: int = RANK, ridge: float = RIDGE
) -> ShapeCorrection:
    """The correction that takes answers ``points (n, 68, 2)`` towards labels ``truth``.

    Both are in image pixels; the fit is in each answer's face frame, the
    frame the correction will have at run time.
    """
    n = len(points)
    if n <= rank:
        raise VidkeysError(f"a rank-{rank} correction needs more than {rank} faces, got {n}")
    shape = to_face(points).reshape(n, -1)
    miss = shape - to_face(truth, reference=points).reshape(n, -1)
    mean = shape.mean(axis=0)
    centred = shape - mean
    basis = np.linalg.svd(centred, full_matrices=False)[2][:rank]
    scores = centred @ basis.T
    offset = miss.mean(axis=0)
    weights = np.linalg.solve(scores.T @ scores + ridge * np.eye(rank), scores.T @ (miss - offset))
    return ShapeCorrection(mean, basis, weights, offset)


def main(argv: list[str] | None = None) -> None:
    parser = weights_step_parser(__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=RANK, help="principal directions read")
    args = parser.parse_args(argv)
    try:
        from vidkeys.network import load_model, save_model

        predictor = KeypointPredictor(args.model, "cpu", correct=False)
        samples, images, boxes = training_people_faces(args.csv, args.images)
        points = place_points(predictor, images, boxes, batch_size=CHUNK)[0]
        truth = np.stack([s.points for s in samples])
        correction = fit_correction(points, truth, args.rank)
        model, meta = load_model(args.model)
        save_model(model, args.model, {**meta, META_KEY: correction.to_meta()})
    except VidkeysError as exc:
        raise SystemExit(f"error: {exc}") from None
    before, after = nme(points, truth).mean(), nme(correction(points), truth).mean()
    print(
        f"fitted on {len(samples)} training faces (NME {100 * before:.2f} % -> "
        f"{100 * after:.2f} %); written to {args.model} and its graph (32-bit: quantise it again)"
    )


if __name__ == "__main__":
    main()
