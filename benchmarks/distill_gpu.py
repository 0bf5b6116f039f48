"""Would a bigger teacher pay, distilled into the shipped-size network? A GPU experiment.

    python benchmarks/distill_gpu.py pack --data DIR --out gpudata      # here
    python benchmarks/distill_gpu.py run --data gpudata --out OUT \\
        [--budget 420] [--epochs 300] [--teacher-widths 64,128,256,512]   # on a GPU
    python -m vidkeys.network OUT/*.pt                                 # here: graphs
    python benchmarks/compare_models.py shipped OUT/teacher.pt OUT/student_a1.pt ...

``pack`` makes a copy of a data set small enough to carry to a lent GPU
machine (about 42 MB for youtube-faces-68): each JPEG's grey channel alone,
losslessly (``jpegtran -grayscale``, from libjpeg-turbo; training reads grey
images, and the pixels decode identically), the CSV, and the Haar boxes
(``haar_boxes.npy``), so the GPU machine runs no detector.

``run`` trains a teacher (a wider network, 1/4-resolution heatmaps) on the
labels, then students (the shipped network, or others named by
``--students``) side by side on the same augmented crops (the training
crop rule, :func:`vidkeys.training.augment.training_crop`) with the
teacher's points on each crop (its mirror test) as targets, blended
with the labels by each ``--alphas`` weight (1: the teacher alone). This is
"function matching" distillation: the teacher answers for every crop a
student sees, rotated, shifted and mirrored. Both phases keep the shipped
recipe (AdamW 2e-3, batch 32, wing loss, warm-up and cosine, best epoch by
held-out NME); if ``--epochs`` of both do not fit ``--budget`` seconds, both
are cut by the same factor, measured on 30 timed steps before training.
``--epochs 0`` trains the teacher alone; ``--teacher OUT/teacher.pt`` skips
it and trains students on an earlier run's teacher, so a long run can span
two device calls.
Weights come back without their ONNX graphs (the teacher's in float16, to
stay under the device tool's 16 MB per file). Each network's best epoch so
far is saved every 10 epochs, so a run cut off at the call's limit still
leaves weights; their ``meta["partial"]`` says the schedule did not finish.

It runs from a source checkout with no install: a GPU machine's own Python
may lack PyAV, which installing vidkeys needs, and training needs none of it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if "vidkeys.training" not in sys.modules:  # a checkout: training/ is vidkeys.training
    sys.path.insert(0, str(ROOT))
    import training

    sys.modules["vidkeys.training"] = training

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from vidkeys.crop import cut_faces, to_frame  # noqa: E402
from vidkeys.mirror import FLIP_INDEX  # noqa: E402
from vidkeys.network import KeypointNet, ModelConfig, load_model  # noqa: E402
from vidkeys.training.augment import AugmentConfig, training_crop  # noqa: E402
from vidkeys.training.data import (  # noqa: E402
    boxes_or_points,
    cached_haar_boxes,
    dataset_checksum,
    load_images,
    read_keypoints_csv,
    split_people,
)
from vidkeys.training.metrics import nme  # noqa: E402
from vidkeys.training.train import TrainConfig, keypoint_loss, warmup_cosine  # noqa: E402

CSV = "training_frames_keypoints.csv"
T0 = time.time()
# Whole runs' steps took 1.32x (teacher) and 1.38x (students) the timed ones on the
# H200 (session 8: validation each epoch, crop workers falling behind); the plan allows it.
SLOWDOWN = 1.4


def pack(data: Path, out: Path) -> None:
    """Grey-only JPEGs, the CSV and the Haar boxes of ``data``, in ``out``."""
    if shutil.which("jpegtran") is None:
        raise SystemExit("error: pack needs jpegtran (Debian: libjpeg-turbo-progs)")
    samples = read_keypoints_csv(data / CSV)
    (out / "training").mkdir(parents=True, exist_ok=True)
    for s in samples:
        with open(out / "training" / s.name, "wb") as f:
            cmd = ["jpegtran", "-grayscale", "-copy", "none", "-optimize"]
            subprocess.run([*cmd, str(data / "training" / s.name)], stdout=f, check=True)
    shutil.copy(data / CSV, out / CSV)
    images = load_images(samples, data / "training")
    boxes = cached_haar_boxes(data / CSV, images, samples)
    np.save(out / "haar_boxes.npy", [b if b is not None else np.full(4, np.nan) for b in boxes])
    print(f"{len(samples)} images, CSV and Haar boxes in {out}")


class Crops(torch.utils.data.Dataset):
    """Training crops keyed by ``(epoch, image)``: the same key gives the same crop."""

    def __init__(self, images, points, boxes, aug: AugmentConfig, size: int) -> None:
        self.images, self.points, self.boxes, self.aug, self.size = images, points, boxes, aug, size

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, key: tuple[int, int]):
        epoch, i = key
        rng = np.random.default_rng([0, epoch, i])
        c, p, y = training_crop(
            self.images[i], self.points[i], self.boxes[i], rng, self.aug, self.size
        )
        return torch.from_numpy(np.ascontiguousarray(c)), torch.from_numpy(p), torch.tensor(y)


def epoch_batches(indices: list[int], epochs: int, batch: int, seed: int):
    """Batches of ``(epoch, image)`` keys, each epoch in a new order, whole batches only."""

    class Batches:
        def __len__(self) -> int:
            return epochs * (len(indices) // batch)

        def __iter__(self):
            for e in range(epochs):
                order = np.random.default_rng([seed, e]).permutation(indices)
                for s in range(0, len(order) - batch + 1, batch):
                    yield [(seed * 100_000 + e, int(i)) for i in order[s : s + batch]]

    return Batches()


def _quiet_worker(_: int) -> None:
    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def loader(ds: Crops, indices, epochs: int, batch: int, seed: int, workers: int):
    return torch.utils.data.DataLoader(
        ds,
        batch_sampler=epoch_batches(indices, epochs, batch, seed),
        num_workers=workers,
        pin_memory=True,
        prefetch_factor=8 if workers else None,
        worker_init_fn=_quiet_worker,
    )


def mirror_mean_t(direct: torch.Tensor, mirrored: torch.Tensor, width: int, shift: float):
    """:func:`vidkeys.mirror.mirror_mean` on tensors (the teacher's mirror test on the GPU)."""
    back = mirrored.clone()
    back[..., 0] = width - 1 - back[..., 0]
    back = back[:, torch.as_tensor(FLIP_INDEX, device=back.device)]
    axis = direct[:, 45] - direct[:, 36]
    dist = axis.norm(dim=-1, keepdim=True)
    back = back + shift * axis[:, None, :] * (dist / dist.clamp_min(1e-9))[:, None, :]
    return (direct + back) / 2


class Trainee:
    """One network in training: optimiser, schedule, history and its best weights so far."""

    def __init__(self, name, cfg: ModelConfig, train: TrainConfig, spe: int, dev, alpha=0.0):
        torch.manual_seed(train.seed)
        self.name, self.alpha, self.train = name, alpha, train
        self.model = KeypointNet(cfg).to(dev, memory_format=torch.channels_last)
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=train.lr, weight_decay=train.weight_decay
        )
        self.sched = warmup_cosine(self.opt, train.epochs * spe, train.warmup_epochs * spe)
        self.best, self.best_state, self.best_epoch = float("inf"), None, 0
        self.history: list[dict] = []
        self.losses: list[torch.Tensor] = []

    def step(self, x, pts, label, target=None) -> None:
        pred, logit = self.model(x)
        # alpha 0 (the teacher itself) learns the labels alone: target stays unused.
        targets = [(self.alpha, target), (1 - self.alpha, pts)]
        loss = keypoint_loss(pred, logit, label, targets, self.train)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()
        self.losses.append(loss.detach())

    @torch.no_grad()
    def validate(self, epoch: int, crops, mats, truth) -> dict:
        """The training loop's measure: held-out people, Haar boxes, one pass, no mirror test."""
        self.model.eval()
        pts = self.model(crops)[0].double().cpu().numpy()
        self.model.train()
        record = {
            "model": self.name,
            "epoch": epoch,
            "loss": float(torch.stack(self.losses).mean()),
            "val_nme": float(nme(to_frame(pts, mats), truth).mean()),
        }
        self.losses = []
        self.history.append(record)
        if record["val_nme"] < self.best:
            self.best, self.best_epoch = record["val_nme"], epoch
            self.best_state = {k: t.detach().clone() for k, t in self.model.state_dict().items()}
        return record

    def end_epoch(self, epoch: int, val, truth, log, path: Path, meta: dict, half=False) -> None:
        """Validate; every 10th epoch and the last, log it and save the best so far."""
        record = self.validate(epoch, *val, truth)
        if epoch % 10 == 0 or epoch == self.train.epochs:
            log(**record)
            self.save(path, meta, half)

    def save(self, path: Path, meta: dict, half: bool = False) -> None:
        """The best epoch in the layout of :func:`vidkeys.network.save_model`, no graph."""
        cfg = dataclasses.asdict(self.model.config)
        cfg["widths"] = list(cfg["widths"])
        state = {
            k: (v.half() if half and v.is_floating_point() else v).cpu()
            for k, v in self.best_state.items()
        }
        meta = {
            **meta,
            "epoch": self.best_epoch,
            "val_nme": self.best,
            "history": self.history,
            # saved every 10 epochs, so that a run cut off by the call's limit leaves its best
            # so far; "partial" says the schedule did not finish
            "partial": len(self.history) < self.train.epochs,
        }
        tmp = path.with_name(path.name + ".part")
        torch.save({"config": cfg, "state_dict": state, "meta": meta}, tmp)
        os.replace(tmp, path)


def student_shape(spec: str, shipped: ModelConfig) -> ModelConfig:
    """A student's network: "plain" is the shipped one; "invertedE" has inverted
    residuals expanding E times (``ModelConfig.block``), at the shipped widths."""
    if spec == "plain":
        return shipped
    if spec.startswith("inverted") and spec[len("inverted") :].isdigit():
        return dataclasses.replace(shipped, block="inverted", expand=int(spec[len("inverted") :]))
    raise SystemExit(f"error: --students takes plain or invertedE (E a whole number), got {spec!r}")


def student_name(spec: str, alpha: float) -> str:
    """``student_a0.5`` for the shipped network (the name of earlier runs), else with its shape."""
    return f"student_a{alpha:g}" if spec == "plain" else f"student_{spec}_a{alpha:g}"


def run(args: argparse.Namespace) -> None:
    cv2.setNumThreads(1)  # an OpenCV thread pool in this process hangs forked workers
    dev = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    args.out.mkdir(parents=True, exist_ok=True)
    log_path = args.out / "log.jsonl"

    def log(**fields) -> None:
        line = json.dumps({**fields, "t": round(time.time() - T0, 1)})
        print(line, flush=True)
        with open(log_path, "a") as f:
            f.write(line + "\n")

    samples = read_keypoints_csv(args.data / CSV)
    found = np.load(args.data / "haar_boxes.npy")
    with ThreadPoolExecutor(16) as pool:
        images = list(
            pool.map(
                lambda s: cv2.imread(str(args.data / "training" / s.name), cv2.IMREAD_GRAYSCALE),
                samples,
            )
        )
    boxes = boxes_or_points(samples, [None if np.isnan(b[0]) else b for b in found])
    points = [s.points for s in samples]
    train_idx, val_idx = split_people(samples)
    log(event="data", train=len(train_idx), val=len(val_idx), device=str(dev))

    aug = AugmentConfig()
    size = 112
    shipped = ModelConfig(crop_size=size, widths=(24, 48, 96, 192), flip_shift=aug.flip_shift)
    shapes = {spec: student_shape(spec, shipped) for spec in args.students}
    loaded = load_model(args.teacher)[0] if args.teacher else None
    teacher_cfg = (
        loaded.config
        if loaded
        else ModelConfig(
            crop_size=size,
            widths=tuple(int(w) for w in args.teacher_widths.split(",")),
            decoder=args.teacher_decoder,
            up_levels=args.teacher_up,
            flip_shift=aug.flip_shift,
        )
    )
    vc, mats = cut_faces([images[i] for i in val_idx], [boxes[i] for i in val_idx], size)
    val_crops = torch.from_numpy(vc).float().unsqueeze(1).to(dev)
    val = (val_crops.contiguous(memory_format=torch.channels_last), mats)
    truth = np.stack([points[i] for i in val_idx])
    ds = Crops(images, points, boxes, aug, size)
    recipe = TrainConfig(epochs=args.epochs, seed=args.seed)
    spe = len(train_idx) // recipe.batch_size
    alphas = [float(a) for a in args.alphas.split(",")]

    def to_dev(x, pts, label):
        x = x.to(dev, non_blocking=True).float().unsqueeze(1)
        x = x.contiguous(memory_format=torch.channels_last)
        return x, pts.to(dev, non_blocking=True), label.to(dev, non_blocking=True).float()

    @torch.no_grad()
    def teacher_points(teacher: KeypointNet, x: torch.Tensor) -> torch.Tensor:
        out = teacher(torch.cat([x, torch.flip(x, dims=[3])]))[0]
        return mirror_mean_t(out[: len(x)], out[len(x) :], size, aug.flip_shift)

    def sync() -> None:
        """Wait for the GPU's queued work, so that host clocks time it."""
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def seconds_per_step(phase: int, steps: int = 40, skip: int = 10) -> float:
        short = dataclasses.replace(recipe, epochs=10)
        teacher = Trainee("timing", teacher_cfg, short, spe, dev)
        students = [
            Trainee("timing", cfg, short, spe, dev, a) for cfg in shapes.values() for a in alphas
        ]
        batches = iter(loader(ds, train_idx, 10, recipe.batch_size, 99, args.workers))
        for k in range(steps):
            if k == skip:
                sync()
                start = time.time()
            x, pts, label = to_dev(*next(batches))
            if phase == 1:
                teacher.step(x, pts, label)
            else:
                target = teacher_points(teacher.model.eval(), x)
                for s in students:
                    s.step(x, pts, label, target)
        sync()
        return (time.time() - start) / (steps - skip)

    teacher_epochs = 0 if loaded else args.teacher_epochs
    step1 = seconds_per_step(1) if teacher_epochs else 0.0
    step2 = seconds_per_step(2) if args.epochs else 0.0
    left = args.budget - (time.time() - T0) - 25
    want = SLOWDOWN * spe * (step1 * teacher_epochs + step2 * args.epochs)
    share = min(1.0, left / want) if want else 1.0
    e1 = max(3, int(teacher_epochs * share)) if teacher_epochs else 0
    e2 = max(3, int(args.epochs * share)) if args.epochs else 0
    log(event="plan", step_teacher=step1, step_students=step2, teacher_epochs=e1, epochs=e2)
    meta = {
        "data_csv": str(args.data / CSV),
        "data_sha256": dataset_checksum(args.data / CSV),
        "train_images": len(train_idx),
        "val_images": len(val_idx),
        "augment": dataclasses.asdict(aug),
        "init": None,
    }

    def train_teacher(e1: int) -> KeypointNet:
        """Phase 1: the teacher on the labels; its best epoch, saved in float16."""
        teacher_recipe = dataclasses.replace(recipe, epochs=e1)
        teacher = Trainee("teacher", teacher_cfg, teacher_recipe, spe, dev)
        save = (
            args.out / "teacher.pt",
            {**meta, "train_config": dataclasses.asdict(teacher_recipe)},
        )
        for n, batch in enumerate(loader(ds, train_idx, e1, recipe.batch_size, 0, args.workers), 1):
            teacher.step(*to_dev(*batch))
            if n % spe == 0:
                teacher.end_epoch(n // spe, val, truth, log, *save, half=True)
        log(event="teacher done", best=teacher.best, epoch=teacher.best_epoch)
        teacher.model.load_state_dict(teacher.best_state)
        return teacher.model.eval()

    def train_students(teacher: KeypointNet, e2: int) -> None:
        """Phase 2: each student on the teacher's points for the crops it sees."""
        student_recipe = dataclasses.replace(recipe, epochs=e2)
        students = [
            Trainee(student_name(spec, a), cfg, student_recipe, spe, dev, a)
            for spec, cfg in shapes.items()
            for a in alphas
        ]
        saves = {}
        for s in students:
            distill = {"alpha": s.alpha, "teacher": dataclasses.asdict(teacher_cfg)}
            train_config = {**dataclasses.asdict(student_recipe), "distill": distill}
            saves[s.name] = (args.out / f"{s.name}.pt", {**meta, "train_config": train_config})
        batches = loader(ds, train_idx, e2, recipe.batch_size, 1 + args.seed, args.workers)
        for n, batch in enumerate(batches, 1):
            x, pts, label = to_dev(*batch)
            target = teacher_points(teacher, x)
            for s in students:
                s.step(x, pts, label, target)
            if n % spe == 0:
                for s in students:
                    s.end_epoch(n // spe, val, truth, log, *saves[s.name])
        for s in students:
            log(event=f"{s.name} done", best=s.best, epoch=s.best_epoch)

    if loaded:
        teacher_model = loaded.to(dev, memory_format=torch.channels_last).eval()
    else:
        teacher_model = train_teacher(e1)
    if e2:
        train_students(teacher_model, e2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("pack", help="a small copy of a data set to carry to a GPU machine")
    p.add_argument("--data", type=Path, default=os.environ.get("VIDKEYS_DATA"))
    p.add_argument("--out", type=Path, required=True)
    r = sub.add_parser("run", help="train the teacher, then the students (on a GPU)")
    r.add_argument("--data", type=Path, required=True, help="a folder made by pack")
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--budget", type=float, default=420.0, help="seconds for everything")
    r.add_argument("--epochs", type=int, default=300, help="the students' (0: teacher only)")
    r.add_argument("--teacher-epochs", type=int, default=300)
    r.add_argument("--teacher", type=Path, help="a teacher.pt of an earlier run: students only")
    r.add_argument("--teacher-widths", default="64,128,256,512")
    r.add_argument("--teacher-decoder", type=int, default=128)
    r.add_argument("--teacher-up", type=int, default=2, help="2: heatmaps at 1/4 of the crop")
    r.add_argument("--alphas", default="1.0,0.5", help="weights of the teacher's points")
    r.add_argument(
        "--students",
        nargs="+",
        default=["plain"],
        help="students' networks: plain (shipped), invertedE (inverted residuals, expand E)",
    )
    r.add_argument("--seed", type=int, default=0, help="weights' and students' crops' seed")
    r.add_argument("--workers", type=int, default=12, help="processes cutting crops")
    r.add_argument("--device", default="cuda")
    args = parser.parse_args()
    if args.command == "pack":
        if args.data is None:
            raise SystemExit("error: give --data DIR or set VIDKEYS_DATA")
        pack(args.data, args.out)
    else:
        run(args)


if __name__ == "__main__":
    main()
