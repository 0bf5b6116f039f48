"""A batch's inputs: files, folders and globs expanded into tasks, one per input.

Each :class:`Task` knows where its outputs go (the input's relative path under
OUTDIR, named by :mod:`vidkeys.io.naming`) and the options its outputs depend
on, which the manifest records so a rerun can tell what is still valid.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from vidkeys.config import PipelineConfig
from vidkeys.errors import VidkeysError
from vidkeys.io.naming import media_suffix, output_path
from vidkeys.io.sources import IMAGE_EXTS, VIDEO_EXTS, check_input, is_hidden
from vidkeys.keypoints.weights import file_sha256
from vidkeys.outputs.faces import INDEX, FaceImages
from vidkeys.outputs.faces import TAG as FACES_TAG


@dataclass(frozen=True)
class Task:
    """One input, where its outputs go, and the options that shape them."""

    source: Path
    rel: Path
    outdir: Path
    csv_only: bool
    features: bool = False
    #: What the outputs depend on (see :func:`task_options`); recorded in the manifest.
    options: str = ""
    #: The CSV in OpenFace 2's layout (``--openface``).
    openface: bool = False
    #: Aligned face images instead of the CSV and video (``--faces``): what to write.
    faces: FaceImages | None = None

    @property
    def csv(self) -> Path:
        """The keypoints CSV of this input."""
        return output_path(self.outdir / self.rel, ".csv")

    @property
    def media(self) -> Path | None:
        """The annotated video or image, unless ``--csv-only``."""
        if self.csv_only:
            return None
        return output_path(self.outdir / self.rel, media_suffix(self.rel))

    @property
    def faces_folder(self) -> Path:
        """The folder of this input's aligned faces (``--faces``)."""
        return output_path(self.outdir / self.rel, "", FACES_TAG)

    @property
    def outputs(self) -> list[Path]:
        """Every file (or faces folder) this task must leave for it to count as done."""
        if self.faces is not None:
            return [self.faces_folder]
        return [p for p in (self.media, self.csv) if p is not None]

    def finished(self) -> bool:
        """Every output is there: each file, a faces folder's index."""
        if self.faces is not None:
            return (self.faces_folder / INDEX).is_file()
        return all(p.is_file() for p in self.outputs)


def task_options(
    source: Path,
    config: PipelineConfig | None,
    features: bool,
    openface: bool = False,
    faces: FaceImages | None = None,
) -> str:
    """The options and input a task's outputs depend on, as a canonical JSON string.

    The pipeline's settings (not where or how fast it runs), ``--features``,
    the input's size and modification time, and the sha256 of every model file
    the run reads (keypoint weights and graph, wherever named: ``--model``,
    ``VIDKEYS_MODEL`` or shipped; the eye and mouth graph; the detector's graph):
    a rerun with any of them changed, a graph replaced in place included,
    redoes the input.
    """
    config = config or PipelineConfig()
    settings = asdict(config)
    for key in ("device", "batch_size", "cnn_threads"):
        settings.pop(key, None)
    if not settings.get("aus"):  # only when set: earlier manifests' options stay valid
        settings.pop("aus", None)
    settings["models"] = _model_stamps(config)
    settings["features"] = features
    if openface:  # only when set: earlier manifests' options stay valid
        settings["openface"] = True
    if faces is not None:
        settings["faces"] = asdict(faces)
    with contextlib.suppress(OSError):
        st = source.stat()
        settings["input"] = [st.st_size, st.st_mtime_ns]
    return json.dumps(settings, sort_keys=True, default=str)


def _model_stamps(config: PipelineConfig) -> list[str]:
    """sha256 of each model file a run with ``config`` reads."""
    from vidkeys.faces.yunet import SHIPPED_MODEL
    from vidkeys.keypoints.regions import default_regions
    from vidkeys.keypoints.weights import default_weights, onnx_path

    weights = Path(config.weights) if config.weights else default_weights()
    files = [weights, onnx_path(weights)]
    if config.regions:
        files.append(Path(config.regions_model) if config.regions_model else default_regions())
    if config.detector.detector == "yunet":
        files.append(Path(config.detector.detector_model or SHIPPED_MODEL))
    return [_sha256(f) for f in dict.fromkeys(files)]


def _sha256(path: Path) -> str:
    """A file's sha256, read once per size and modification time; "" when unreadable."""
    try:
        st = path.stat()
    except OSError:
        return ""
    return _sha256_of(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    try:
        return file_sha256(path)
    except OSError:
        return ""


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS | IMAGE_EXTS and not is_hidden(path)


#: How many left-out names a note lists before "and N more".
NAMED = 5


def _is_our_output(path: Path) -> bool:
    """Files a batch writes into OUTDIR: never taken as inputs when OUTDIR is among them."""
    return (
        path.name.startswith(".")
        or ".keypoints." in path.name
        or path.parent.name.endswith(f".{FACES_TAG}")
    )


def collect_inputs(
    inputs: Iterable[str],
    outdir: Path,
    csv_only: bool,
    features: bool = False,
    config: PipelineConfig | None = None,
    openface: bool = False,
    note: Callable[[str], None] | None = None,
    faces: FaceImages | None = None,
) -> list[Task]:
    """Expand files, folders (recursively) and globs into tasks, each input once.

    A folder's files keep their path below the folder; a glob's matches keep
    their path below the glob's fixed leading part; a plain file keeps its name.
    OUTDIR may lie inside (or be) an input folder: the batch's own outputs
    there are left out, the other files are inputs. A folder's files that are not
    videos or images by name are left out and named through ``note`` (hidden
    files silently: a macOS ``._NAME`` is no video).
    """
    tasks: dict[Path, Task] = {}
    outdir = outdir.resolve()
    for item in inputs:
        path = Path(item)
        if glob.has_magic(item):
            fixed = _fixed_prefix(item)
            base = Path(*fixed) if fixed else Path(".")
            found = [Path(m) for m in sorted(glob.glob(item, recursive=True))]
            pairs = [(m, m.relative_to(base)) for m in found if m.is_file() and _is_media(m)]
            if not pairs:
                raise VidkeysError(f"no video or image matches {item}")
        elif path.is_dir():
            every = sorted(p for p in path.rglob("*") if p.is_file())
            files = [p for p in every if _is_media(p)]
            pairs = [(p, p.relative_to(path)) for p in files]
            other = [
                str(p.relative_to(path))
                for p in every
                if not _is_media(p) and not is_hidden(p) and outdir not in p.resolve().parents
            ]
            if other and note is not None:
                more = f" and {len(other) - NAMED} more" if len(other) > NAMED else ""
                note(
                    f"note: {path}: left out {len(other)} file(s) that are not videos or "
                    f"images by name: {', '.join(other[:NAMED])}{more}"
                )
            if not pairs:
                raise VidkeysError(f"{path}: folder holds no videos or images")
        elif path.is_file():
            pairs = [(path, Path(path.name))]
        else:
            check_input(path)  # says why (missing, a link loop, a named pipe, ...)
            raise VidkeysError(f"{item} is not a video or image file")
        for src, rel in pairs:
            src = src.resolve()
            if (src.parent == outdir or outdir in src.parents) and _is_our_output(src):
                continue  # never take our own outputs as inputs
            options = task_options(src, config, features, openface, faces)
            rel = _below(rel)
            task = Task(src, rel, outdir, csv_only, features, options, openface, faces)
            tasks.setdefault(src, task)
    by_output: dict[Path, Path] = {}
    for task in tasks.values():
        for out in task.outputs:
            if outdir not in out.resolve().parents:
                raise VidkeysError(f"the output {out} of {task.source} would land outside {outdir}")
            if out in tasks:
                raise VidkeysError(f"the output {out} of {task.source} would overwrite an input")
            other = by_output.setdefault(out, task.source)
            if other != task.source:
                raise VidkeysError(
                    f"{other} and {task.source} would both write {out}; "
                    "give them separate folders or batches"
                )
    return list(tasks.values())


def _below(rel: Path) -> Path:
    """An input's path below OUTDIR: ``..`` folded in (a glob such as
    ``*/../../other/*.mp4`` matches paths that climb), what still climbs dropped."""
    parts = [p for p in Path(os.path.normpath(rel)).parts if p not in ("..", "/")]
    return Path(*parts) if parts else Path(rel.name)


def _fixed_prefix(pattern: str) -> list[str]:
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return fixed
