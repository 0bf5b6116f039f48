"""What outputs are called: one rule for single-file jobs and batches.

An output of input ``IN`` is ``STEM.TAG.SUFFIX``: ``clip.mp4`` gives
``clip.keypoints.csv`` and ``clip.keypoints.mp4``, ``photo.png`` gives
``photo.keypoints.png``, a folder of frames ``shots/`` gives
``shots.keypoints.mp4``; ``vidkeys filter`` uses the overlay's name as the tag
(``clip.sunglasses.mp4``). A single-file job writes it next to the input, a
batch in the output folder under the input's relative path.
"""

from __future__ import annotations

from pathlib import Path

from vidkeys.io.sources import IMAGE_EXTS

#: The tag of keypoint outputs (annotated media and CSV / JSON lines).
TAG = "keypoints"


def media_suffix(source: Path) -> str:
    """The annotated copy's suffix: an image keeps its format, anything else is MP4."""
    suffix = Path(source).suffix.lower()
    return suffix if suffix in IMAGE_EXTS and not Path(source).is_dir() else ".mp4"


def output_path(source: Path, suffix: str, tag: str = TAG, folder: Path | None = None) -> Path:
    """``STEM.TAG.SUFFIX`` in ``folder`` (default: next to the input).

    ``source`` names the input (a folder of images is named after the folder);
    ``suffix`` has its dot (``".csv"``, or :func:`media_suffix`).
    """
    source = Path(source)
    stem = source.name if source.is_dir() else source.stem
    return (source.parent if folder is None else Path(folder)) / f"{stem}.{tag}{suffix}"
