"""The package as installed: what the wheel holds, what the CPU path imports, CLI basics.

`make wheel-test` (.ci/run) goes further: it installs the wheel without
extras into a fresh venv and runs it from another folder.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vidkeys
from tests.helpers import PHOTO, REPO
from vidkeys.cli import app
from vidkeys.faces.yunet import MODEL_FILE as YUNET_FILE
from vidkeys.faces.yunet import MODEL_SHA256 as YUNET_SHA256
from vidkeys.keypoints.predictor import _cuda_driver_present
from vidkeys.keypoints.weights import DEFAULT_WEIGHTS, onnx_path

runner = CliRunner()


def _modules_after(code: str, cwd: Path) -> set[str]:
    """Run ``code`` in a fresh interpreter; the top-level modules it imported."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


def _cli(*args: str) -> str:
    return (
        "import sys\nfrom vidkeys.cli import main\n"
        f"sys.argv = ['vidkeys', {', '.join(repr(a) for a in args)}]\n"
        "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
    )


def test_help_and_version_do_not_import_torch(tmp_path: Path) -> None:
    for args in (["--help"], ["--version"], ["export-csv", "--help"]):
        assert "torch" not in _modules_after(_cli(*args), tmp_path), args


@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_cpu_path_does_not_import_torch(device: str, tmp_path: Path) -> None:
    """`export-csv` on a photo and `vidkeys.process` run in ONNX Runtime only."""
    if device == "auto" and _cuda_driver_present():
        pytest.skip("a CUDA driver is present: auto may rightly pick torch")
    out = tmp_path / "photo.csv"
    cli = _cli("export-csv", str(PHOTO), "-o", str(out), "--quiet", "--device", device)
    modules = _modules_after(cli, tmp_path)
    assert "torch" not in modules and "onnxruntime" in modules
    assert len(out.read_text().splitlines()) == 2  # header + the one face
    api = (
        "import vidkeys\n"
        f"config = vidkeys.PipelineConfig(device={device!r})\n"
        f"frames = list(vidkeys.process({str(PHOTO)!r}, config))\n"
        "assert len(frames[0].faces) == 1\n"
    )
    assert "torch" not in _modules_after(api, tmp_path)


def test_wheel_carries_weights_and_graph_and_installs_nothing_generic(tmp_path: Path) -> None:
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("vidkeys-*.whl")
    dist_info = f"vidkeys-{vidkeys.__version__}.dist-info"
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(f"{dist_info}/METADATA").decode()
        detector = z.read(f"vidkeys/saved_models/{YUNET_FILE}")
        licence = z.read("vidkeys/saved_models/LICENSE-yunet").decode()
    assert hashlib.sha256(detector).hexdigest() == YUNET_SHA256
    assert "MIT License" in licence and "Shiqi Yu" in licence
    assert {n.split("/")[0] for n in names} == {"vidkeys", dist_info}  # no top-level training
    for name in ("vidkeys68.pt", "vidkeys68.onnx", "README.md"):
        assert f"vidkeys/saved_models/{name}" in names
    assert "vidkeys/training/train.py" in names
    assert not any("assets" in n for n in names)
    requires = [ln for ln in metadata.splitlines() if ln.startswith("Requires-Dist:")]
    base = [ln for ln in requires if "extra ==" not in ln]
    assert not any("torch" in ln or "onnx " in ln or "onnx>" in ln for ln in base), base
    assert any("torch" in ln and 'extra == "train"' in ln for ln in requires), requires


def test_shipped_weights_are_found_inside_the_package() -> None:
    import vidkeys.saved_models

    folder = Path(vidkeys.saved_models.__file__).parent
    assert folder / "vidkeys68.pt" == DEFAULT_WEIGHTS and DEFAULT_WEIGHTS.is_file()
    assert onnx_path(DEFAULT_WEIGHTS).is_file()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"vidkeys {vidkeys.__version__}"


@pytest.mark.parametrize(
    ("args", "choices"),
    [
        (["export-csv", "--device", "gpu"], ["auto", "cpu", "cuda"]),
        (["export-csv", "--format", "xml"], ["csv", "jsonl"]),
        (["batch", "-o", "out", "--engine", "dask"], ["local", "ray"]),
        (["filter", "--overlay", "hat", "--place", "feet"], ["eyes", "mouth", "head"]),
        (["eval", "--csv", "a.csv", "--images", "d", "--split", "test"], ["all", "val"]),
        (
            ["eval", "--csv", "a.csv", "--images", "d", "--boxes", "dlib"],
            ["haar", "search", "oracle"],
        ),
    ],
)
def test_choice_options_list_their_choices_and_reject_others(
    args: list[str], choices: list[str]
) -> None:
    command = args[0]
    shown = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert shown.exit_code == 0
    assert "|".join(choices) in shown.stdout, shown.stdout
    rejected = runner.invoke(app, [*args, str(PHOTO)])
    assert rejected.exit_code == 2, rejected.output
    assert all(c in rejected.stderr for c in choices), rejected.stderr
