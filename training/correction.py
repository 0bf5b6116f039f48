"""Fit a weights file's shape correction on the training people's faces.

    python -m vidkeys.training.correction --csv DATA/training_frames_keypoints.csv \\
        --images DATA/training --model saved_models/vidkeys68.pt

Places every training face as ``vidkeys eval`` does (Haar box, or the box of
its labels where Haar finds none; two passes; the mirror test), without any
correction, then fits
:class:`vidkeys.keypoints.correction.ShapeCorrection`: how the points miss the labels,
as a linear function of the points' shape, both in the face's own frame.
Held-out people are left out, so ``vidkeys eval --split val`` measures it
on faces no step has seen. The correction is stored in the weights' metadata
and their graph is rewritten, 32-bit (``make train`` then makes it 8-bit with
:mod:`vidkeys.training.quantize`). Needs the ``train`` extra.

``--cross-validate K`` writes nothing: it prints the training people's NME
for each rank and ridge, every fold's correction fitted on the other folds'
people, which is how :data:`RANK` and :data:`RIDGE` were chosen without
looking at the held-out people.
"""

from __future__ import annotations

import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.keypoints.correction import META_KEY, ShapeCorrection, to_face
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.training.data import Sample, training_people_faces, weights_step_parser
from vidkeys.training.evaluate import place_points
from vidkeys.training.metrics import nme

#: Principal directions of the shape the correction reads. ``--cross-validate 5``
#: on the shipped weights: 4 directions take the training people's 3.571 % to
#: 3.522 %, 32 to 3.507 %, all 136 to 3.505 % (the mean miss alone: 3.540 %).
RANK = 32
#: Crops per CNN call: bounded memory (a teacher-sized network given all
#: 3,117 training faces at once needed more than this 24 GiB machine has).
CHUNK = 256
#: Ridge penalty of the fit (face-frame units; the same cross-validation: 0.1-10 within 0.008).
RIDGE = 1.0
#: The grid ``--cross-validate`` scores (0 directions: the mean miss alone).
CV_RANKS = (0, 4, 8, 16, 32, 64, 136)
CV_RIDGES = (0.1, 1.0, 10.0)


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


def cross_validate(
    points: np.ndarray,
    truth: np.ndarray,
    samples: list[Sample],
    folds: int,
    ranks: tuple[int, ...] = CV_RANKS,
    ridges: tuple[float, ...] = CV_RIDGES,
) -> dict[tuple[int, float], float]:
    """Mean NME of every face, corrected by the fit on the other folds, per ``(rank, ridge)``.

    Folds hold out whole people (their images are near duplicates), dealt in
    name order, every ``folds``-th person to one fold. Ranks that some fold's
    remaining faces cannot fit are left out.
    """
    people = sorted({s.person for s in samples})
    if not 2 <= folds <= len(people):
        raise VidkeysError(f"--cross-validate needs 2 to {len(people)} folds, got {folds}")
    fold = {person: i % folds for i, person in enumerate(people)}
    of = np.array([fold[s.person] for s in samples])
    fewest = min(int((of != k).sum()) for k in range(folds))
    errors = {}
    for rank in (r for r in ranks if r < fewest):
        for ridge in ridges:
            corrected = np.empty_like(points)
            for k in range(folds):
                fit = fit_correction(points[of != k], truth[of != k], rank, ridge)
                corrected[of == k] = fit(points[of == k])
            errors[rank, ridge] = float(nme(corrected, truth).mean())
    return errors


def main(argv: list[str] | None = None) -> None:
    parser = weights_step_parser(__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, default=RANK, help="principal directions read")
    parser.add_argument(
        "--cross-validate",
        type=int,
        metavar="K",
        help="print the K-fold NME over the training people per rank and ridge; write nothing",
    )
    args = parser.parse_args(argv)
    try:
        from vidkeys.keypoints.network import load_model, save_model

        predictor = KeypointPredictor(args.model, "cpu", correct=False)
        samples, images, boxes = training_people_faces(args.csv, args.images)
        points = place_points(predictor, images, boxes, batch_size=CHUNK)[0]
        truth = np.stack([s.points for s in samples])
        if args.cross_validate is not None:
            errors = cross_validate(points, truth, samples, args.cross_validate)
            print(f"{args.cross_validate}-fold NME over {len(samples)} training faces")
            print(f"uncorrected {100 * nme(points, truth).mean():.3f} %")
            print("rank " + "".join(f"  ridge {r:<5g}" for r in CV_RIDGES))
            for rank in sorted({rank for rank, _ in errors}):
                row = "".join(f"  {100 * errors[rank, r]:9.3f} %" for r in CV_RIDGES)
                print(f"{rank:4d} {row}")
            return
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
