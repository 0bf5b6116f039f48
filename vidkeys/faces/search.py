"""The face search a run uses, by name: ``yunet`` (default) or ``haar``."""

from __future__ import annotations

from vidkeys.config import DetectorConfig
from vidkeys.errors import VidkeysError
from vidkeys.faces.detect import SlicedSearch
from vidkeys.faces.haar import HaarSearch
from vidkeys.faces.yunet import YuNetSearch

DETECTORS = ("yunet", "haar")


def face_search(config: DetectorConfig | None = None) -> SlicedSearch:
    """The search of ``config.detector`` (``yunet`` or ``haar``)."""
    config = config or DetectorConfig()
    if config.detector == "yunet":
        return YuNetSearch(config)
    if config.detector == "haar":
        return HaarSearch(config)
    raise VidkeysError(f"unknown detector {config.detector!r}: use {' or '.join(DETECTORS)}")
