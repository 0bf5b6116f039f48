"""Every setting of a run, its default and its help: the one place they are written.

The pipeline's stages read these dataclasses; the CLI builds its options from
them (:func:`option_help` gives an option's help text), and
:func:`vidkeys.process` takes their field names flat. Nothing heavy is
imported here, so ``vidkeys --help`` starts without numpy, OpenCV or PyAV.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path


def _opt(default: object, text: str) -> object:
    """A field with a CLI help text (``field.metadata["help"]``)."""
    return field(default=default, metadata={"help": text})


@dataclass(frozen=True)
class DetectorConfig:
    """Which face detector, its parameters, and the width frames are shrunk to.

    ``detector`` is ``yunet`` (a small CNN OpenCV runs, shipped; the default)
    or ``haar`` (OpenCV's cascades, the detector vidkeys started from).
    Detection is the slowest stage and its cost grows with frame area, while
    a face at half a frame's resolution is still large enough for either
    detector. ``detect_width=None`` (auto) therefore searches at half the frame
    width, kept within 320-960 px: 640x360 is searched at 320 px wide,
    1920x1080 at 960. Smaller faces are searched at full resolution in tiles,
    a slice at a time.

    ``min_score`` is the YuNet score a detection needs; the keypoint CNN's own
    confidence then gates it again (``TrackerConfig.new_confidence``).

    ``min_neighbors`` is 3, not OpenCV's 5: on youtube-faces-68's held-out
    people 5 misses 3.5 % of the faces and 3 misses 0.9 %; the extra false
    boxes it finds are dropped later by the confidence gate.
    ``min_size`` is the smallest face searched, in pixels of the (shrunk)
    image Haar sees; Haar's own window is 24 px, so smaller values do nothing.
    """

    detector: str = _opt("yunet", "Face detector: yunet (a small CNN) or haar (cascades).")
    detector_model: Path | None = field(
        default=None, metadata={"help": "YuNet ONNX graph (default: shipped)."}
    )
    min_score: float = _opt(0.3, "YuNet score a face needs, 0-1.")
    scale_factor: float = _opt(1.1, "Haar scale step.")
    min_neighbors: int = _opt(3, "Haar min neighbours.")
    min_size: int = _opt(24, "Smallest face, px (as searched).")
    detect_width: int | None = _opt(
        None, "Shrink frames to this width for the whole-frame searches (0: auto, half)."
    )


@dataclass
class TrackerConfig:
    """When a face counts as found, and how long a lost face keeps its id."""

    #: Confidence (the lower of the face score and the points' mean
    #: confidence, see ``VideoRun._keypoints``) a followed face needs to stay
    #: tracked: low, so a face turning away is followed, not dropped.
    min_confidence: float = 0.15
    #: Confidence a new detection needs to start a track: higher, because
    #: Haar's false boxes (a light switch, lettering, a grille) get face
    #: scores of 0.99. 0.35 is a mean heatmap peak of 0.153, above 90 % of
    #: the non-face crops of the held-out people (0.133). On the real clips
    #: (``benchmarks/bench_recall.py``), 0.5 kept only a third of a turned
    #: face's frames, 0.3 let a robot's grille in (README, "Real footage").
    new_confidence: float = 0.35
    #: CNN passes a new face gets: one from the detector's box, then again
    #: from the box of its own points, the box every later frame is cropped
    #: from (a detector frames a face differently). On the held-out people
    #: the second pass lowers NME and failures (``vidkeys eval --split val
    #: --passes 1`` against the default 2; docs/benchmarks.md); ``vidkeys eval``
    #: places points the same way.
    new_face_passes: int = 2
    #: A followed face whose look (:mod:`vidkeys.faces.likeness`) matches its previous
    #: frame's less than this is someone else: its track ends, a new one starts.
    #: On the real clips 1 pair of consecutive frames in 1,393 of one face
    #: scores under 0.7; 97 % of changes between held-out people do
    #: (``benchmarks/bench_video_nme.py --canvas black`` counts ids carried).
    min_likeness: float = 0.7
    #: A lost face keeps its id this many frames, if it was seen in at least
    #: ``min_hits`` frames (a one-frame track is dropped at once).
    max_gap: int = 15
    min_hits: int = 3
    match_iou: float = 0.3
    smooth: bool = _opt(True, "One Euro smoothing per track.")
    # One Euro settings, picked on the sample clip (motion) and a still noisy
    # clip (jitter): see README "Smoothing".
    min_cutoff: float = 0.1
    beta: float = 20.0
    #: The eyes' and mouth's points (36-67) move on their own, fast: a blink
    #: shuts and opens the lids in 3-6 frames, which the face's 0.1 Hz would
    #: flatten (on real clips the eye opening followed MediaPipe's at r 0.71
    #: smoothed so, 0.77 unsmoothed). Their filter opens sooner and reads speed
    #: quicker: 2 Hz and 4 Hz gave r 0.77, 1 and 4 Hz 0.76, 0.5 and 2 Hz 0.75
    #: (still-face jitter 0.060, 0.052, 0.044 %; ``benchmarks/bench_expression.py``,
    #: ``bench_jitter.py``).
    region_min_cutoff: float = 2.0
    region_d_cutoff: float = 4.0


@dataclass(frozen=True)
class CutConfig:
    """Thresholds a frame-to-frame change must pass (both) to count as a cut."""

    #: Mean absolute change of the thumbnail, in grey levels.
    min_change: float = 25.0
    #: Half the L1 distance of the 32-bin grey histograms (0: same, 1: disjoint).
    min_histogram_change: float = 0.15


@dataclass
class PipelineConfig:
    """Knobs of a run: the stages' settings and how often to search."""

    detector: DetectorConfig = field(default_factory=DetectorConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    cuts: CutConfig = field(default_factory=CutConfig)
    #: On the real clips 1, 2, 4 and 10 find the same faces (new faces there
    #: come with cuts or into empty frames, which are searched at once) while
    #: CPU time per frame falls from 36.9 to 14.5 ms (benchmarks/bench_recall.py).
    detect_every: int = _opt(
        10, "While faces are followed, a slice of the face search every N frames."
    )
    #: With no face followed, the frontal slice and the next slice run at once
    #: on every ``idle_every``-th frame: a face coming into an empty shot is
    #: found in the frame it appears or the next, at half the cost of
    #: searching every faceless frame (cuts are searched at once anyway).
    idle_every: int = 2
    batch_size: int = _opt(64, "Most crops per CNN call.")
    #: Each crop and its mirror image through the CNN, averaged: on the held-out
    #: people NME 4.04 -> 3.97 % (``vidkeys eval [--fast]``), for about twice
    #: the CNN time: about a quarter of a synthetic 640x360 clip's fps. The CLI's
    #: ``--fast`` turns it off.
    mirror_test: bool = _opt(
        True, "Average each face's points with its mirror image's (2x CNN time)."
    )
    #: Eyes and mouth placed again on close-up patches by their own networks
    #: (vidkeys.keypoints.regions): what makes blinks and shut lips show
    #: (saved_models/README.md, "Eyes and mouth").
    regions: bool = _opt(True, "Place eyes and mouth again on close-up patches.")
    #: Another eye and mouth graph (``python -m vidkeys.training.regions`` writes
    #: one); None: the shipped ``vidkeys_regions.onnx``.
    regions_model: Path | None = None
    #: Action units by OpenFace's names and blink events, measured from each
    #: face's points along its track (vidkeys.keypoints.actions): ``Faces.aus``,
    #: ``FrameResult.blinks``, and the sinks' AU columns and events.
    aus: bool = _opt(
        False,
        "Add action units AU25, AU26, AU45 (OpenFace's names), each eye's openness "
        "and blink events.",
    )
    device: str = "auto"
    weights: Path | None = None
    #: CPU threads for the CNN. One: a frame's few crops gain little from a
    #: second thread, and the other core is busy decoding and detecting
    #: (640x360, 2 faces, two runs each: 116-144 fps with 1 thread, 108-119 with 2).
    cnn_threads: int | None = 1


def option_help(config: type, name: str) -> str:
    """The help text written beside field ``name`` of a config dataclass."""
    return next(f.metadata["help"] for f in fields(config) if f.name == name)
