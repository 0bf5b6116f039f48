"""Does a face-landmark network pretrained on other faces pay on 3,117 training faces? (issue 13)

    pip download --no-deps mediapipe==0.10.14 -d runs/s14    # only for its model file
    pip install --no-deps tflite                             # reads that file (pure Python)
    python benchmarks/mesh_pretrained.py speed --mesh runs/s14/mediapipe-0.10.14-*.whl
    python benchmarks/mesh_pretrained.py train --mesh WHEEL \\
        --csv $D/training_frames_keypoints.csv --epochs 39 --lr 3e-4 [--device cuda] \\
        --out runs/s14/mesh.pt                     # resumable: OUT.ckpt
    python benchmarks/mesh_pretrained.py export --mesh WHEEL runs/s14/mesh.pt runs/s14/mesh.onnx
    VIDKEYS_DATA=$D python benchmarks/compare_models.py [--mean] shipped runs/s14/mesh.onnx

Session 12's ImageNet encoder knew images, not faces. MediaPipe's face mesh
(Apache 2.0) is a CNN trained by others on many more faces to place 468
points; its mean with vidkeys' network erred less than either (model card,
"Session 6"). Here its weights are the start, fine-tuned on the labels: its
``face_landmark.tflite`` (from the 0.10.14 wheel, the last that carries it)
rebuilt as a PyTorch module layer by layer (convolutions, depthwise
convolutions, PReLU, additions, max-pooling, channel padding: all it uses),
its 468 (x, y) outputs standardised and mapped onto the 68 points by a
linear layer, first fitted by ridge regression on the training people's
crops (epoch 0's figure), then trained with everything else by the shipped
recipe: 192 px crops (the mesh's input) cut by the training crop rule, grey
copied to its three colour inputs, the wing loss's widths scaled by 192/112
so that it weighs errors as it does on 112 px crops.
"""

from __future__ import annotations

import argparse
import math
import sys
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

# benchmarks/ is on sys.path when run as a script
from pretrained_encoder import DATA, export_graph, fit, speed_table, training_args
from torch import nn

from vidkeys.crop import apply_matrix, cut_faces
from vidkeys.network import ModelConfig
from vidkeys.training.train import TrainConfig

CROP = 192
MESH_FILE = "mediapipe/modules/face_landmark/face_landmark.tflite"
#: TFLite tensor types this model's buffers use: float32, float16, int32.
TYPES = {0: np.float32, 1: np.float16, 2: np.int32}


def mesh_bytes(path: Path) -> bytes:
    """The face mesh's TFLite file, from a MediaPipe wheel or as given."""
    if not path.is_file():
        raise SystemExit(f"error: {path} not found (pip download --no-deps mediapipe==0.10.14)")
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as wheel:
            return wheel.read(MESH_FILE)
    return path.read_bytes()


def _same(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's "SAME" padding (before, after): the extra pixel goes after."""
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class TFLiteCNN(nn.Module):
    """A plain TFLite CNN as a trainable module: its operators run in file order.

    ``forward`` takes ``(n, 3, h, w)`` in [0, 1] (the channels-first layout of
    the file's ``(n, h, w, 3)`` input) and returns the graph's outputs.
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        try:
            import tflite
        except ImportError:
            raise SystemExit(
                "error: pip install --no-deps tflite (it reads the mesh file)"
            ) from None

        model = tflite.Model.GetRootAsModel(data, 0)
        graph = model.Subgraphs(0)
        names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.params = nn.ParameterDict()
        self.steps: list[tuple[str, list[int], int, dict]] = []
        dequantized: dict[int, np.ndarray] = {}

        def const(i: int) -> np.ndarray:
            if i in dequantized:
                return dequantized[i]
            t = graph.Tensors(i)
            raw = model.Buffers(t.Buffer()).DataAsNumpy().tobytes()
            return np.frombuffer(raw, TYPES[t.Type()]).reshape(t.ShapeAsNumpy())

        for k in range(graph.OperatorsLength()):
            op = graph.Operators(k)
            code = model.OperatorCodes(op.OpcodeIndex())
            kind = names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
            ins = [op.Inputs(j) for j in range(op.InputsLength())]
            out = op.Outputs(0)
            table = op.BuiltinOptions()
            if kind == "DEQUANTIZE":  # float16 weights, widened once here
                dequantized[out] = const(ins[0]).astype(np.float32)
            elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                opts = (
                    tflite.Conv2DOptions if kind == "CONV_2D" else tflite.DepthwiseConv2DOptions
                )()
                opts.Init(table.Bytes, table.Pos)
                w = const(ins[1])  # OHWI, or 1HWC for depthwise
                w = w.transpose(0, 3, 1, 2) if kind == "CONV_2D" else w.transpose(3, 0, 1, 2)
                self.params[f"w{k}"] = nn.Parameter(torch.tensor(w, dtype=torch.float32))
                self.params[f"b{k}"] = nn.Parameter(
                    torch.tensor(const(ins[2]), dtype=torch.float32)
                )
                if opts.FusedActivationFunction() not in (0, 1):  # none, ReLU
                    raise SystemExit(f"error: unsupported activation in operator {k}")
                self.steps.append(
                    (
                        "conv",
                        ins[:1],
                        out,
                        {
                            "key": k,
                            "stride": opts.StrideH(),
                            "same": opts.Padding() == 0,
                            "groups": 1 if kind == "CONV_2D" else w.shape[0],
                            "relu": opts.FusedActivationFunction() == 1,
                        },
                    )
                )
            elif kind == "PRELU":
                alpha = const(ins[1]).reshape(-1)
                self.params[f"a{k}"] = nn.Parameter(torch.tensor(alpha, dtype=torch.float32))
                self.steps.append(("prelu", ins[:1], out, {"key": k}))
            elif kind == "ADD":
                opts = tflite.AddOptions()
                opts.Init(table.Bytes, table.Pos)
                self.steps.append(("add", ins, out, {"relu": opts.FusedActivationFunction() == 1}))
            elif kind == "MAX_POOL_2D":
                opts = tflite.Pool2DOptions()
                opts.Init(table.Bytes, table.Pos)
                args = {"k": opts.FilterHeight(), "stride": opts.StrideH()}
                self.steps.append(("pool", ins[:1], out, args | {"same": opts.Padding() == 0}))
            elif kind == "PAD":  # NHWC (before, after) per axis
                (_, _), (t, b), (left, right), (c0, c1) = const(ins[1]).tolist()
                self.steps.append(("pad", ins[:1], out, {"pad": (left, right, t, b, c0, c1)}))
            else:
                raise SystemExit(f"error: the mesh file uses {kind}, which this rebuild lacks")
        self.input = graph.Inputs(0)
        self.outputs = [graph.Outputs(j) for j in range(graph.OutputsLength())]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        v = {self.input: x}
        for kind, ins, out, a in self.steps:
            y = v[ins[0]]
            if kind in ("conv", "pool"):
                kernel = self.params[f"w{a['key']}"].shape[-1] if kind == "conv" else a["k"]
                if a["same"]:
                    top, bottom = _same(y.shape[2], kernel, a["stride"])
                    left, right = _same(y.shape[3], kernel, a["stride"])
                    fill = 0.0 if kind == "conv" else float("-inf")
                    y = F.pad(y, (left, right, top, bottom), value=fill)
                if kind == "pool":
                    y = F.max_pool2d(y, kernel, a["stride"])
                else:
                    w, b = self.params[f"w{a['key']}"], self.params[f"b{a['key']}"]
                    y = F.conv2d(y, w, b, a["stride"], groups=a["groups"])
                    y = F.relu(y) if a["relu"] else y
            elif kind == "prelu":
                y = F.prelu(y, self.params[f"a{a['key']}"])
            elif kind == "add":
                y = y + v[ins[1]]
                y = F.relu(y) if a["relu"] else y
            else:
                y = F.pad(y, a["pad"])
            v[out] = y
        return [v[o] for o in self.outputs]


class MeshKeypoints(nn.Module):
    """The face mesh, its (x, y) outputs standardised and mapped onto the 68 points.

    Served like vidkeys' network: grey crops in, points in crop pixels and the
    mesh's face score out (its "peak" output is a constant: this network has no
    heatmaps, so vidkeys' confidence means nothing for it).
    """

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.mesh = TFLiteCNN(data)
        self.map = nn.Linear(936, 136)
        # Set by fit_map: standardised inputs give the map steps of the same
        # size as the rest of the network's under one learning rate.
        self.register_buffer("mean", torch.zeros(936))
        self.register_buffer("scale", torch.ones(936))
        self.config = ModelConfig(crop_size=CROP)

    def mesh_points(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mesh, score = self.mesh((x / 255.0).expand(-1, 3, -1, -1))
        return mesh.reshape(-1, 468, 3)[:, :, :2].flatten(1), score.flatten()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xy, score = self.mesh_points(x)
        return self.map((xy - self.mean) / self.scale).view(-1, 68, 2), score

    def predict(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        points, score = self(x)
        return points, score, torch.ones_like(points[..., 0])


@torch.no_grad()
def fit_map(model: MeshKeypoints, samples, images, boxes, train_idx, ridge: float = 1e-4) -> None:
    """Ridge regression from the untrained mesh's points to the labels, on the training people."""
    model.eval()
    device = model.map.weight.device
    crops, mats = cut_faces([images[i] for i in train_idx], [boxes[i] for i in train_idx], CROP)
    xy = []
    for start in range(0, len(crops), 128):
        batch = torch.from_numpy(crops[start : start + 128]).float().unsqueeze(1).to(device)
        xy.append(model.mesh_points(batch)[0].cpu().double().numpy())
    feats = np.concatenate(xy)
    target = np.stack(
        [apply_matrix(m, samples[i].points).ravel() for i, m in zip(train_idx, mats, strict=True)]
    )
    mean, scale = feats.mean(0), feats.std(0) + 1e-6
    a = (feats - mean) / scale
    w = np.linalg.solve(
        a.T @ a + ridge * len(a) * np.eye(a.shape[1]), a.T @ (target - target.mean(0))
    )
    model.mean.copy_(torch.from_numpy(mean))
    model.scale.copy_(torch.from_numpy(scale))
    model.map.weight.copy_(torch.from_numpy(w.T))
    model.map.bias.copy_(torch.from_numpy(target.mean(0)))


def train(args: argparse.Namespace) -> None:
    torch.set_flush_denormal(True)  # the float16 weights' tiny values slow the CPU 10-fold
    s = CROP / 112
    cfg = TrainConfig(epochs=args.epochs, lr=args.lr)
    cfg = replace(cfg, wing_w=cfg.wing_w * s, wing_eps=cfg.wing_eps * s)
    model = MeshKeypoints(mesh_bytes(args.mesh)).to(args.device)
    fit(model, args, cfg, args.device, start_fresh=fit_map)


def export(args: argparse.Namespace) -> None:
    torch.set_flush_denormal(True)
    model = MeshKeypoints(mesh_bytes(args.mesh))
    model.load_state_dict(torch.load(args.weights, map_location="cpu"))
    export_graph(model, args.out, args.data, args.int8)


def speed(args: argparse.Namespace) -> None:
    """Faces/s as served of the shipped network and the (untrained) mesh network."""
    from vidkeys.network import load_model

    nets = {
        "shipped network": load_model(None)[0],
        "face mesh, 192 px": MeshKeypoints(mesh_bytes(args.mesh)),
    }
    speed_table(nets, args.seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    mesh = argparse.ArgumentParser(add_help=False)
    mesh.add_argument(
        "--mesh", type=Path, required=True, help="mediapipe-0.10.14 wheel, or the .tflite"
    )
    sp = sub.add_parser(
        "speed", parents=[mesh], help="CNN faces/s, 32- and 8-bit graphs, untrained"
    )
    sp.add_argument("--seconds", type=float, default=2.0)
    t = sub.add_parser("train", parents=[mesh], help="fine-tune the mesh (resumable)")
    training_args(t, epochs=39, lr=3e-4)
    t.add_argument("--device", default="cpu")
    e = sub.add_parser(
        "export", parents=[mesh], help="weights -> ONNX graph with a shape correction"
    )
    e.add_argument("weights", type=Path)
    e.add_argument("out", type=Path)
    e.add_argument("--data", type=Path, default=DATA)
    e.add_argument("--int8", action="store_true")
    args = parser.parse_args()
    {"speed": speed, "train": train, "export": export}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
