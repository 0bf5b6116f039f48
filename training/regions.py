"""Train the eye and mouth networks (:mod:`vidkeys.keypoints.regions`).

    python -m vidkeys.training.regions --csv CSV --images DIR
        [--teacher NPZ ...] [--epochs 40] [--out saved_models/vidkeys_regions.pt] [--resume]

Each training person's face is placed by the shipped face network as vidkeys
places a new face (so the patches are cut where they will be cut at run time,
with its errors), or, for some crops, from the labels; the region patches are
then moved, turned and scaled a little more at random. The targets are the
labels' eye and mouth points in the patch. About a third of the eyes are
closed and of the mouths shut by :mod:`vidkeys.training.closures` first,
then the patch is put through real video's conditions (lower resolution,
motion blur, dark noisy frames, JPEG). ``--teacher`` adds frames of real video
with MediaPipe's lids and lips as labels (:mod:`vidkeys.training.mesh_labels`).

Each epoch ends with the held-out people's figures: eye and mouth error (%
of the outer-eye-corner distance), EAR's r with the labels' and its spread,
the shut-lipped faces' gap, beside the face network's own. Checkpointed every
epoch (``--resume`` goes on); the end writes the ``.pt`` and its ONNX graph.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import time
import warnings
from pathlib import Path

import cv2
import numpy as np
import torch
from torch import nn

from vidkeys.faces.crop import apply_matrix, crop
from vidkeys.keypoints.features import eye_opening, lip_gap
from vidkeys.keypoints.predictor import KeypointPredictor
from vidkeys.keypoints.regions import (
    EYE_SIZE,
    LEFT_EYE_MIRRORED,
    MOUTH,
    MOUTH_FLIP,
    MOUTH_SIZE,
    RIGHT_EYE,
    RegionRefiner,
    region_matrices,
)
from vidkeys.training.augment import (
    AugmentConfig,
    dark,
    jpeg,
    motion_blur,
    photometric,
    smaller,
)
from vidkeys.training.closures import close_eye, close_mouth, open_mouth, shift_gaze
from vidkeys.training.data import (
    held_out_faces,
    training_people_faces,
)
from vidkeys.training.evaluate import place_points

OPSET = 17
#: Channels of the four stages: 8-64 serve both networks in 0.10 ms a face on one
#: core, against 0.29 ms at 16-96 with two convolutions in every stage (model card).
WIDTHS = (8, 16, 32, 64)


class RegionNet(nn.Module):
    """A patch ``(n, 1, size, size)`` (grey levels) and the face network's points on it
    ``(n, points, 2)`` to the region's points ``(n, points, 2)``, in patch pixels.

    Four stride-2 stages of 3x3 convolutions (two in all but the first), then two
    fully connected
    layers that also see the face network's points and answer a move from
    them (zero at the start of training): the face network's points are good
    where the face is (corners, lip outline) and the patch adds what it misses
    (how far lids and lips are apart). Direct regression keeps the points of a
    region tied to each other, where separate heatmaps would let a lid wander.
    """

    def __init__(self, size: int, points: int, widths: tuple[int, ...] = WIDTHS):
        super().__init__()
        layers, cin = [], 1
        for i, w in enumerate(widths):
            layers += [nn.Conv2d(cin, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True)]
            if i > 0:  # the first stage's second convolution cost a third of the time
                layers += [nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(True)]
            cin = w
        self.body = nn.Sequential(*layers)
        side = size // 2 ** len(widths)
        self.hidden = nn.Sequential(
            nn.Linear(cin * side * side + points * 2, 128), nn.ReLU(inplace=True)
        )
        self.move = nn.Linear(128, points * 2)
        nn.init.zeros_(self.move.weight)
        nn.init.zeros_(self.move.bias)
        self.size, self.points = size, points

    def forward(self, x: torch.Tensor, init: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        std = x.std(dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
        y = self.body((x - mean) / std).flatten(1)
        y = self.hidden(torch.cat([y, init.flatten(1) / self.size - 0.5], dim=1))
        return init + self.move(y).view(-1, self.points, 2) * self.size


class RegionNets(nn.Module):
    """Both networks as one graph:
    ``(eyes, eye_init, mouths, mouth_init) -> (eye_points, mouth_points)``."""

    def __init__(self) -> None:
        super().__init__()
        self.eye = RegionNet(EYE_SIZE, 6)
        self.mouth = RegionNet(MOUTH_SIZE, 20)

    def forward(self, eyes, eye_init, mouths, mouth_init):
        return self.eye(eyes, eye_init), self.mouth(mouths, mouth_init)


# --- samples ------------------------------------------------------------------------------


def jitter(matrix: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """``matrix`` followed by a small random similarity about the patch centre."""
    a = np.deg2rad(rng.normal(0, 5))
    k = np.exp(rng.normal(0, 0.08))
    shift = rng.normal(0, 0.05 * size, 2)
    c = size / 2
    rot = k * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    j = np.hstack([rot, (np.array([c, c]) - rot @ [c, c] + shift)[:, None]])
    return np.hstack([j[:, :2] @ matrix[:, :2], (j[:, :2] @ matrix[:, 2] + j[:, 2])[:, None]])


#: Brightness, contrast, blur and noise of a patch (milder than a face crop's).
PATCH_PHOTOMETRIC = AugmentConfig(
    brightness=30.0, contrast=(0.6, 1.4), blur_prob=0.2, noise_max=6.0
)


def degrade(patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Real video's conditions on a patch: resolution, blur, darkness, noise, JPEG."""
    size = patch.shape[0]
    if rng.random() < 0.35:
        patch = smaller(patch, size, size * rng.uniform(0.25, 0.8))
    if rng.random() < 0.15:
        patch = motion_blur(patch, rng.uniform(2, 0.12 * size), rng)
    if rng.random() < 0.15:
        patch = dark(patch, rng)
    patch = photometric(patch, rng, PATCH_PHOTOMETRIC)
    if rng.random() < 0.2:
        patch = jpeg(patch, int(rng.integers(10, 60)))
    return patch


#: Shares of eye patches made to look aside, and of the mouths not shut that are
#: opened wider (:mod:`vidkeys.training.closures`; model card, "What was tried").
LOOK_ASIDE, OPEN_WIDER = 0.3, 0.3


def make_sample(
    image: np.ndarray,
    labels: np.ndarray,
    placed: np.ndarray,
    rng: np.random.Generator,
    closures: bool = True,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray, np.ndarray]:
    """Two eye patches, a mouth patch, the face network's points on each and the targets,
    as ``[(patch, init, target) x 2], (patch, init, target)``. The patches are cut
    from the face network's points (``placed``), moved a little more at random."""
    eye_m, mouth_m = region_matrices(placed[None])
    eyes = []
    for i, m in enumerate(eye_m):
        m = jitter(m, EYE_SIZE, rng)
        idx = RIGHT_EYE if i == 0 else LEFT_EYE_MIRRORED
        patch = crop(image, m, EYE_SIZE)
        target = apply_matrix(m, labels[idx])
        if closures and rng.random() < LOOK_ASIDE:
            patch, target = shift_gaze(patch, target, rng.uniform(-1.0, 1.0))
        if closures and rng.random() < 0.35:
            amount = 1.0 if rng.random() < 0.5 else rng.uniform(0.2, 1.0)
            patch, target = close_eye(patch, target, amount)
        eyes.append((degrade(patch, rng), apply_matrix(m, placed[idx]), target))
    m = jitter(mouth_m[0], MOUTH_SIZE, rng)
    patch = crop(image, m, MOUTH_SIZE)
    target, init = apply_matrix(m, labels[MOUTH]), apply_matrix(m, placed[MOUTH])
    if closures and rng.random() < 0.45:
        amount = 1.0 if rng.random() < 0.6 else rng.uniform(0.3, 1.0)
        patch, target = close_mouth(patch, target, amount, rng.uniform(0.3, 0.7))
    elif closures and rng.random() < OPEN_WIDER:
        patch, target = open_mouth(patch, target, rng.uniform(0.3, 2.0))
    if rng.random() < 0.5:
        patch = patch[:, ::-1]
        target = target[MOUTH_FLIP] * [-1, 1] + [MOUTH_SIZE - 1, 0]
        init = init[MOUTH_FLIP] * [-1, 1] + [MOUTH_SIZE - 1, 0]
    return eyes, (degrade(np.ascontiguousarray(patch), rng), init, target)


def region_loss(pred: torch.Tensor, target: torch.Tensor, pairs: list[tuple[int, int]]):
    """Mean L1 of the points plus twice that of the openings between ``pairs`` (lid to
    lid, lip to lip): how far apart lids and lips are is what the stage is for."""
    loss = (pred - target).abs().mean()
    a, b = zip(*pairs, strict=True)
    open_p = pred[:, list(a), 1] - pred[:, list(b), 1]
    open_t = target[:, list(a), 1] - target[:, list(b), 1]
    return loss + 2.0 * (open_p - open_t).abs().mean()


EYE_PAIRS = [(5, 1), (4, 2)]
MOUTH_PAIRS = [(19, 13), (18, 14), (17, 15), (10, 2), (9, 3), (8, 4)]


# --- validation ---------------------------------------------------------------------------


def figures(points: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Eye and mouth error, EAR agreement and the shut-lipped faces' gap."""
    iod = np.linalg.norm(labels[:, 36] - labels[:, 45], axis=1)
    err = np.linalg.norm(points - labels, axis=-1) / iod[:, None]
    ear, ear_l = eye_opening(points), eye_opening(labels)
    gap, gap_l = lip_gap(points), lip_gap(labels)
    shut = gap_l < 0.01
    return {
        "eye_nme": 100 * float(err[:, 36:48].mean()),
        "mouth_nme": 100 * float(err[:, 48:68].mean()),
        "all_nme": 100 * float(err.mean()),
        "ear_r": float(np.corrcoef(ear, ear_l)[0, 1]),
        "ear_spread": float(ear.std() / ear_l.std()),
        "shut_lip_gap": float(np.median(gap[shut])),
    }


def format_figures(name: str, f: dict[str, float]) -> str:
    return (
        f"{name}: NME eyes {f['eye_nme']:.2f} mouth {f['mouth_nme']:.2f} all {f['all_nme']:.2f}"
        f" | EAR r {f['ear_r']:.3f} spread {f['ear_spread']:.2f}"
        f" | shut-lip gap {f['shut_lip_gap']:.3f}"
    )


def refine_torch(nets: RegionNets, images, points: np.ndarray) -> np.ndarray:
    """``points`` with eyes and mouth placed again by ``nets`` (as the served graph does)."""
    from vidkeys.keypoints.regions import cut_regions, place_answers, region_points

    eyes, mouths, eye_m, mouth_m = cut_regions(list(images), points)
    eye_init, mouth_init = region_points(points, eye_m, mouth_m)
    nets.eval()
    with torch.inference_mode():
        e, m = nets(
            *(
                torch.from_numpy(a).float()
                for a in (eyes[:, None], eye_init, mouths[:, None], mouth_init)
            )
        )
    return place_answers(points, eye_init, mouth_init, e.numpy(), m.numpy(), eye_m, mouth_m)


# --- saving -------------------------------------------------------------------------------


def export(nets: RegionNets, out: Path, meta: dict) -> Path:
    """Write the ``.pt`` and the ONNX graph beside it (suffix ``.onnx``)."""
    import onnx

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    torch.save({"state_dict": nets.state_dict(), "meta": meta}, tmp)
    os.replace(tmp, out)
    model = copy.deepcopy(nets).eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (
                torch.zeros(2, 1, EYE_SIZE, EYE_SIZE),
                torch.zeros(2, 6, 2),
                torch.zeros(1, 1, MOUTH_SIZE, MOUTH_SIZE),
                torch.zeros(1, 20, 2),
            ),
            buffer,
            input_names=["eyes", "eye_init", "mouths", "mouth_init"],
            output_names=["eye_points", "mouth_points"],
            dynamic_axes={
                "eyes": {0: "eyes"},
                "eye_init": {0: "eyes"},
                "mouths": {0: "faces"},
                "mouth_init": {0: "faces"},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load_from_string(buffer.getvalue())
    entry = graph.metadata_props.add()
    entry.key, entry.value = "meta", json.dumps(meta)
    onnx_out = out.with_suffix(".onnx")
    tmp = onnx_out.with_name(onnx_out.name + ".part")
    onnx.save(graph, tmp)
    os.replace(tmp, onnx_out)
    return onnx_out


# --- the loop -----------------------------------------------------------------------------


def load_teacher(paths: list[Path]) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Frames of real video, MediaPipe's 68 points on them and the face network's."""
    images, labels, placed = [], [], []
    for path in paths:
        data = np.load(path)
        ends = data["jpeg_ends"]
        for i in range(len(data["labels"])):
            jpg = data["jpeg"][(ends[i - 1] if i else 0) : ends[i]]
            images.append(cv2.imdecode(jpg, cv2.IMREAD_GRAYSCALE))
            labels.append(data["labels"][i])
            placed.append(data["placed"][i])
    return images, labels, placed


def train(args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(os.cpu_count() or 2)
    rng = np.random.default_rng(0)
    predictor = KeypointPredictor(device="cpu")
    t0 = time.time()
    samples, images, boxes = training_people_faces(args.csv, args.images)
    placed, _, _ = place_points(predictor, images, boxes, batch_size=256)
    labels = [s.points.astype(np.float64) for s in samples]
    placed = list(placed)
    n_labelled = len(images)
    if args.teacher:
        t_images, t_labels, t_placed = load_teacher(args.teacher)
        k = args.teacher_repeat
        images, labels, placed = images + t_images * k, labels + t_labels * k, placed + t_placed * k
    v_samples, v_images, v_boxes = held_out_faces(args.csv, args.images)
    v_placed, _, _ = place_points(predictor, v_images, v_boxes, batch_size=256)
    v_labels = np.stack([s.points for s in v_samples]).astype(np.float64)
    print(
        f"{n_labelled} labelled faces, {len(images) - n_labelled} teacher frames (repeats), "
        f"{len(v_images)} held-out faces ({time.time() - t0:.0f} s)",
        flush=True,
    )
    print(format_figures("face network", figures(v_placed, v_labels)), flush=True)

    nets = RegionNets()
    opt = torch.optim.AdamW(nets.parameters(), lr=args.lr, weight_decay=1e-4)
    steps_per_epoch = (len(images) + args.batch - 1) // args.batch
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.1
    )
    ckpt = args.out.with_name(args.out.name + ".ckpt")
    start = 0
    if args.resume and ckpt.is_file():
        state = torch.load(ckpt, weights_only=False)
        nets.load_state_dict(state["nets"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        rng = state["rng"]
        start = state["epoch"]
        print(f"resumed after epoch {start}", flush=True)
    best = None
    for epoch in range(start, args.epochs):
        nets.train()
        t0 = time.time()
        order = rng.permutation(len(images))
        total = 0.0
        for b in range(0, len(order), args.batch):
            eyes, mouths = [], []
            for i in order[b : b + args.batch]:
                e, m = make_sample(images[i], labels[i], placed[i], rng)
                eyes += e
                mouths.append(m)
            ex, ei, et = (torch.from_numpy(np.stack(a)).float() for a in zip(*eyes, strict=True))
            mx, mi, mt = (torch.from_numpy(np.stack(a)).float() for a in zip(*mouths, strict=True))
            pe, pm = nets(ex[:, None], ei, mx[:, None], mi)
            loss = (
                region_loss(pe, et, EYE_PAIRS) / EYE_SIZE
                + region_loss(pm, mt, MOUTH_PAIRS) / MOUTH_SIZE
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(mx)
        refined = refine_torch(nets, v_images, v_placed)
        f = figures(refined, v_labels)
        print(
            f"epoch {epoch + 1}/{args.epochs} loss {total / len(images):.4f} "
            f"({time.time() - t0:.0f} s) " + format_figures("held out", f),
            flush=True,
        )
        torch.save(
            {
                "nets": nets.state_dict(),
                "opt": opt.state_dict(),
                "sched": sched.state_dict(),
                "rng": rng,
                "epoch": epoch + 1,
            },
            ckpt,
        )
        best = f
    meta = {
        "epochs": args.epochs,
        "labelled_faces": n_labelled,
        "teacher_frames": (len(images) - n_labelled) // max(args.teacher_repeat, 1),
        "teacher_repeat": args.teacher_repeat,
        "held_out": best,
    }
    graph = export(nets, args.out, meta)
    print(f"wrote {args.out} and {graph}")
    # The graph as served must give what the torch networks gave.
    served = RegionRefiner(graph)(list(v_images), v_placed)
    print(format_figures("served graph", figures(served, v_labels)), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, required=True)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--teacher", type=Path, nargs="*", default=[])
    parser.add_argument(
        "--teacher-repeat", type=int, default=3, help="times each teacher frame is seen an epoch"
    )
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", type=Path, default=Path("saved_models/vidkeys_regions.pt"))
    parser.add_argument("--resume", action="store_true")
    train(parser.parse_args())


if __name__ == "__main__":
    main()
