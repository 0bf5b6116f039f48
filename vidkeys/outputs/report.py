"""`vidkeys report`: one self-contained HTML page about the faces of a video.

From a video (the pipeline runs) or from a vidkeys CSV (default or
``--openface`` layout) plus its video (for the thumbnails only). The page
holds, with no file or network access of its own (images are inline JPEG,
charts inline SVG drawn here, no script):

- the run's figures (input, duration, frames, faces, confidence, speed);
- a thumbnail of each ``face_id`` (its most confident frame);
- a timeline of when each face is present;
- per face, head pose (pitch, yaw, roll, degrees) and eye and mouth openness
  over time: the eyes' openness (mean of both, 1 as open as usual for that
  face) and the mouth aspect ratio, with each blink and wink marked, and
  counted (blinks also a minute of the face's presence). Openness and
  blinks are :mod:`vidkeys.keypoints.actions`' (``--aus``), computed here from
  the points of the video's run or of the CSV's rows.

Long videos are drawn with at most ``MAX_POINTS`` points a line: each
point is the mean of its stretch of frames, except eye openness, which is
the stretch's minimum, so a blink of one or two frames stays visible.
"""

from __future__ import annotations

import base64
import csv
import glob
import html
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vidkeys.errors import VidkeysError
from vidkeys.io.atomic import AtomicOutputs
from vidkeys.io.sources import VIDEO_EXTS, FrameSource, SourceInfo, is_stream, source_stem
from vidkeys.keypoints.actions import SHUT, ActionUnits
from vidkeys.keypoints.confidence import SUCCESS_THRESHOLD
from vidkeys.keypoints.features import face_features
from vidkeys.outputs.annotate import PALETTE
from vidkeys.results import Blink, Faces

#: Faces drawn in full (the ones present longest); the rest are counted.
MAX_FACES = 24
#: Points of a line in a chart, at most.
MAX_POINTS = 600
THUMB = 96
#: Colours of the marks of blinks (both eyes) and winks (one).
BLINK_COLOUR, WINK_COLOUR = "#8e44ad", "#16a085"
CHART_W, CHART_H = 600, 90


@dataclass
class FaceSeries:
    """One face_id over the video: per-row arrays, and where its best thumbnail is."""

    face_id: int
    index: np.ndarray  # frame index in the source, from 0
    time: np.ndarray  # seconds
    confidence: np.ndarray
    success: np.ndarray
    pose: np.ndarray  # (n, 3) pitch, yaw, roll in degrees
    openness: np.ndarray  # the eyes' mean openness, 1 as open as usual
    mar: np.ndarray
    #: Eye closures that ended while the face was followed (blinks and winks).
    events: list[Blink] = field(default_factory=list)
    best_index: int = 0
    best_box: np.ndarray = field(default_factory=lambda: np.zeros(4))
    thumbnail: str = ""  # data: URL

    def blinks(self) -> int:
        """Closures of both eyes."""
        return sum(b.eyes == "both" for b in self.events)

    def winks(self) -> int:
        """Closures of one eye."""
        return len(self.events) - self.blinks()


@dataclass
class ReportData:
    """Everything the page shows."""

    title: str
    frames: int
    fps: float
    width: int
    height: int
    duration: float
    faces: list[FaceSeries]
    rows: int
    run_seconds: float | None = None  # the pipeline's time, when the report ran it
    source_kind: str = "video"


def _series(
    face_id: int,
    index: np.ndarray,
    t: np.ndarray,
    conf: np.ndarray,
    rot: np.ndarray,
    points: np.ndarray,
    boxes: np.ndarray,
) -> FaceSeries:
    order = np.argsort(index, kind="stable")
    index, t, conf, rot, points, boxes = (a[order] for a in (index, t, conf, rot, points, boxes))
    measures = face_features(points) if len(points) else np.zeros((0, 4))
    openness, events = _eyes(face_id, index, t, conf, points)
    best = int(np.argmax(conf)) if len(conf) else 0
    return FaceSeries(
        face_id=face_id,
        index=index,
        time=t,
        confidence=conf,
        success=(conf >= SUCCESS_THRESHOLD).astype(np.int8),
        pose=np.degrees(rot),
        openness=openness,
        mar=measures[:, 2],
        events=events,
        best_index=int(index[best]) if len(index) else 0,
        best_box=boxes[best] if len(boxes) else np.zeros(4),
    )


def _eyes(
    face_id: int, index: np.ndarray, t: np.ndarray, conf: np.ndarray, points: np.ndarray
) -> tuple[np.ndarray, list[Blink]]:
    """The eyes' mean openness per row and the closures of one face, in frame order.

    The rows go through :class:`ActionUnits` as the pipeline's ``--aus`` puts
    them through it: the report counts blinks by the rule of ``AU45_c`` and of
    the JSON lines' events.
    """
    actions = ActionUnits()
    openness = np.full(len(index), np.nan)
    events: list[Blink] = []
    # Only the id, the points and the confidence count; the rest is left blank.
    ids, box, pose = np.array([face_id]), np.zeros((1, 4)), np.zeros((1, 3))
    point_conf = np.zeros((1, points.shape[1]))
    for k in range(len(index)):
        row = Faces(ids, box, points[k : k + 1], conf[k : k + 1], pose, pose, point_conf)
        faces, ended = actions(int(index[k]), float(t[k]), row)
        openness[k] = (faces.aus["eye_open_right"][0] + faces.aus["eye_open_left"][0]) / 2
        events += ended
    return openness, events


#: Columns a row cannot do without: a blank or unreadable cell there is an error.
_REQUIRED = ("frame", "face_id", "timestamp")


def read_csv(
    path: Path, start: float | None = None, end: float | None = None
) -> tuple[dict[int, FaceSeries], int]:
    """A vidkeys CSV (default or ``--openface`` layout) as per-face series, and its row count.

    Read as a spreadsheet may have saved it: a UTF-8 byte-order mark, spaces
    after commas, blank cells. ``frame``, ``face_id`` and ``timestamp`` must
    be numbers in every row (else one error naming row and column); a blank
    or ``nan`` elsewhere is a missing value, and a row missing its confidence
    or a point is left out (it cannot be charted). ``start``/``end`` (seconds)
    keep the rows in that window, as ``--start``/``--end`` do for a video.
    """
    try:
        with Path(path).open(encoding="utf-8-sig", newline="") as f:
            table = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise VidkeysError(f"cannot read {path}: {reason}") from exc
    if not table:
        raise VidkeysError(f"{path}: the file is empty")
    header_line = ",".join(table[0])
    names = [n.strip() for n in table[0]]
    need = ["frame", "face_id", "timestamp", "confidence", "pose_Rx", "pose_Ry", "pose_Rz"]
    need += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    missing = [n for n in need if n not in names]
    if missing:
        raise VidkeysError(f"{path}: not a vidkeys CSV (no column {missing[0]})")
    boxes = all(n in names for n in ("box_x", "box_y", "box_w", "box_h"))
    cols = need + (["box_x", "box_y", "box_w", "box_h"] if boxes else [])
    where = [names.index(c) for c in cols]
    rows = []
    for line, row in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        values = []
        for name, k in zip(cols, where, strict=True):
            cell = row[k].strip() if k < len(row) else ""
            try:
                value = float(cell) if cell else float("nan")
            except ValueError:
                raise VidkeysError(
                    f"{path}: row {line}, column {name}: {cell!r} is not a number"
                ) from None
            if name in _REQUIRED and not np.isfinite(value):
                raise VidkeysError(f"{path}: row {line}, column {name}: no value")
            values.append(value)
        rows.append(values)
    data = np.array(rows, np.float64).reshape(-1, len(cols))
    first = 1 if ", " in header_line else 0  # --openface: frame from 1
    keep = np.isfinite(data[:, 3]) & np.isfinite(data[:, 7:143]).all(axis=1)
    if start is not None:
        keep &= data[:, 2] >= start
    if end is not None:
        keep &= data[:, 2] < end
    data = data[keep]
    index = data[:, 0].astype(np.int64) - first
    face_ids = data[:, 1].astype(np.int64)
    points = np.stack([data[:, 7:75], data[:, 75:143]], axis=2)
    if boxes:
        box = data[:, 143:147]
    else:
        lo, hi = points.min(axis=1), points.max(axis=1)
        box = np.concatenate([lo, hi - lo], axis=1)
    faces = {}
    for fid in np.unique(face_ids):
        m = face_ids == fid
        faces[int(fid)] = _series(
            int(fid), index[m], data[m, 2], data[m, 3], data[m, 4:7], points[m], box[m]
        )
    return faces, len(data)


def csv_stem(csv: Path) -> str:
    """The name a CSV was made for: ``talk.day2.keypoints.csv`` -> ``talk.day2``."""
    name = csv.name
    for suffix in (".keypoints.csv", ".csv"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return csv.stem


def collect(results: object) -> tuple[dict[int, FaceSeries], int]:
    """Per-face series from an iterable of :class:`~vidkeys.results.FrameResult`."""
    parts: dict[int, list[tuple]] = {}
    rows = 0
    for result in results:  # type: ignore[attr-defined]
        faces = result.faces
        if not len(faces):
            continue
        conf = faces.confidence
        for i in range(len(faces)):
            rows += 1
            parts.setdefault(int(faces.face_id[i]), []).append(
                (
                    result.index,
                    result.timestamp,
                    conf[i],
                    faces.rotation[i],
                    faces.points[i],
                    faces.boxes[i],
                )
            )
    out = {}
    for fid, items in parts.items():
        cols = list(zip(*items, strict=True))
        out[fid] = _series(
            fid,
            np.array(cols[0], np.int64),
            np.array(cols[1], np.float64),
            np.array(cols[2], np.float64),
            np.array(cols[3], np.float64),
            np.array(cols[4], np.float64),
            np.array(cols[5], np.float64),
        )
    return out, rows


def find_video(csv: Path) -> Path | None:
    """The video a CSV was made from, by name: ``clip.keypoints.csv`` -> ``clip.mp4`` (etc.)."""
    stem = csv_stem(csv)
    for candidate in sorted(csv.parent.glob(f"{glob.escape(stem)}.*")):
        if (
            candidate.suffix.lower() in VIDEO_EXTS
            and candidate.name[: -len(candidate.suffix)] == stem
        ):
            return candidate
    return None


def add_thumbnails(faces: list[FaceSeries], video: Path | str, info: SourceInfo) -> None:
    """Each face's best frame, cut around its box, as an inline JPEG (seeks, decodes a few)."""
    fps = info.fps or 30.0
    for face in sorted(faces, key=lambda f: f.best_index):
        t = face.best_index / fps
        source = FrameSource(video, start=t, end=t + 1.5 / fps) if info.kind == "video" else None
        image = None
        if source is None:  # an image or a folder: read that one frame
            source = FrameSource(video)
        with source:
            for frame in source:
                if frame.index >= face.best_index:
                    image = frame.image
                    break
        if image is None:
            continue
        x, y, w, h = face.best_box
        pad = 0.25 * max(w, h)
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        x1 = min(image.shape[1], math.ceil(x + w + pad))
        y1 = min(image.shape[0], math.ceil(y + h + pad))
        if x1 <= x0 or y1 <= y0:
            continue
        crop = image[y0:y1, x0:x1]
        scale = THUMB / max(crop.shape[:2])
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            face.thumbnail = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()


# --- drawing ------------------------------------------------------------------


def _colour(face_id: int) -> str:
    b, g, r = PALETTE[face_id % len(PALETTE)]
    # The palette is bright for video overlays; darken it for a white page.
    return f"rgb({int(r * 0.75)},{int(g * 0.75)},{int(b * 0.75)})"


def _buckets(t: np.ndarray, duration: float) -> np.ndarray:
    """Bucket number of each time, MAX_POINTS buckets over the video."""
    return np.minimum((t / max(duration, 1e-9) * MAX_POINTS).astype(np.int64), MAX_POINTS - 1)


def _reduce(t: np.ndarray, v: np.ndarray, duration: float, how: str, gap: float) -> tuple:
    """(bucket, value, starts a run) of each bucket with data: its mean (or min).

    A bucket starts a new run (the line breaks) when its first row comes
    more than ``gap`` seconds after the row before it: the face was gone.
    """
    ok = np.isfinite(v)
    t, v = t[ok], v[ok]
    if not len(v):
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool)
    b = _buckets(t, duration)
    keys, start = np.unique(b, return_index=True)
    if how == "min":
        vals = np.minimum.reduceat(v, start)
    else:
        vals = np.add.reduceat(v, start) / np.diff(np.append(start, len(v)))
    after_gap = np.concatenate([[True], np.diff(t) > gap])
    return keys, vals, after_gap[start]


def _path(keys: np.ndarray, vals: np.ndarray, new_run: np.ndarray, lo: float, hi: float) -> str:
    """An SVG path through the buckets, broken where the face was gone."""
    if not len(keys):
        return ""
    xs = (keys + 0.5) * CHART_W / MAX_POINTS
    ys = CHART_H - (np.clip(vals, lo, hi) - lo) / (hi - lo) * CHART_H
    return "".join(
        f"{'M' if new else 'L'}{x:.1f} {y:.1f}" for x, y, new in zip(xs, ys, new_run, strict=True)
    )


def _chart(
    title: str,
    lines: list[tuple[str, str, np.ndarray, str]],
    t: np.ndarray,
    duration: float,
    lo: float,
    hi: float,
    gap: float,
    marks: tuple[float, ...] = (),
    ticks: Sequence[tuple[float, str]] = (),
) -> str:
    """One small SVG line chart over the whole video's time.

    ``marks`` are values drawn as dashed lines across; ``ticks`` are
    ``(seconds, colour)`` events drawn as short strokes up from the bottom.
    """
    out = [
        f'<svg class="chart" viewBox="-34 -14 {CHART_W + 44} {CHART_H + 30}" '
        f'width="{CHART_W + 44}" height="{CHART_H + 30}" role="img">',
        f"<title>{html.escape(title)}</title>",
        f'<rect x="0" y="0" width="{CHART_W}" height="{CHART_H}" class="plot"/>',
    ]
    for m in marks:
        y = CHART_H - (m - lo) / (hi - lo) * CHART_H
        out.append(f'<line x1="0" x2="{CHART_W}" y1="{y:.1f}" y2="{y:.1f}" class="mark"/>')
    for value, y in ((hi, 0), (lo, CHART_H)):
        out.append(f'<text x="-4" y="{y + 4}" class="axis" text-anchor="end">{value:g}</text>')
    out.append(f'<text x="0" y="-3" class="axis">{html.escape(title)}</text>')
    legend_x = CHART_W
    for label, colour, values, how in reversed(lines):
        keys, vals, new_run = _reduce(t, values, duration, how, gap)
        out.append(
            f'<path d="{_path(keys, vals, new_run, lo, hi)}" fill="none" stroke="{colour}" '
            'stroke-width="1.2"/>'
        )
        legend_x -= 8 * len(label) + 14
        out.append(f'<text x="{legend_x}" y="-3" class="axis" style="fill:{colour}">{label}</text>')
    for seconds, colour in ticks:  # over the lines, and below the plot, where nothing hides them
        x = min(seconds / max(duration, 1e-9), 1.0) * CHART_W
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{CHART_H + 5}" y2="{CHART_H - 10}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    out.append(
        f'<text x="{CHART_W}" y="{CHART_H + 12}" class="axis" text-anchor="end">'
        f"{_clock(duration)}</text>"
        f'<text x="0" y="{CHART_H + 12}" class="axis">0:00</text></svg>'
    )
    return "".join(out)


def _clock(seconds: float) -> str:
    m, s = divmod(int(np.rint(seconds)), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _segments(index: np.ndarray, gap: int = 2) -> list[tuple[int, int]]:
    """Runs of frame indices (first, last), joined over gaps of up to ``gap`` frames."""
    if not len(index):
        return []
    breaks = np.nonzero(np.diff(index) > gap)[0]
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(index) - 1]])
    return [(int(index[a]), int(index[b])) for a, b in zip(starts, ends, strict=True)]


def _timeline(faces: list[FaceSeries], frames: int) -> str:
    row, label_w = 18, 70
    width = CHART_W + label_w
    out = [
        f'<svg class="timeline" viewBox="0 0 {width} {row * len(faces) + 16}" '
        f'width="{width}" height="{row * len(faces) + 16}" role="img"><title>presence</title>'
    ]
    scale = CHART_W / max(frames, 1)
    for k, face in enumerate(faces):
        y = k * row
        out.append(f'<text x="0" y="{y + 13}" class="axis">face {face.face_id}</text>')
        out.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{CHART_W}" height="{row - 6}" class="plot"/>'
        )
        runs = _segments(face.index, gap=max(2, int(frames / CHART_W)))
        for a, b in runs:
            x, w = label_w + a * scale, max(1.0, (b - a + 1) * scale)
            out.append(
                f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                f'fill="{_colour(face.face_id)}"/>'
            )
    out.append("</svg>")
    return "".join(out)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;background:#fff;max-width:1000px}
h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:24px 0 8px}
table.figures td{padding:1px 12px 1px 0}table.figures td:first-child{color:#666}
.face{display:flex;gap:12px;align-items:flex-start;border-top:1px solid #ddd;padding:10px 0}
.face img,.nothumb{width:96px;height:96px;object-fit:contain;background:#eee;flex:none}
.meta{width:150px;flex:none;font-size:13px}.charts svg{display:block}
.plot{fill:#f7f7f7;stroke:#ccc;stroke-width:.5}.mark{stroke:#bbb;stroke-dasharray:3 3}
.axis{font-size:10px;fill:#666}
"""


def render(data: ReportData) -> str:
    """The HTML page (one string, nothing outside it)."""
    shown = data.faces[:MAX_FACES]
    rest = data.faces[MAX_FACES:]
    conf = np.concatenate([f.confidence for f in data.faces]) if data.faces else np.zeros(0)
    ok = np.concatenate([f.success for f in data.faces]) if data.faces else np.zeros(0)
    figures = [
        ("input", data.title),
        ("video", f"{data.width} x {data.height}, {data.fps:.2f} fps"),
        ("duration", f"{_clock(data.duration)} ({data.frames} frames)"),
        ("faces (face_id)", f"{len(data.faces)}"),
        ("face rows", f"{data.rows} ({data.rows / max(data.frames, 1):.2f} a frame)"),
        (
            "confidence",
            f"mean {conf.mean():.2f}; success (>= {SUCCESS_THRESHOLD}) on "
            f"{100 * ok.mean():.1f} % of rows"
            if len(conf)
            else "no face",
        ),
    ]
    if data.run_seconds:
        figures.append(
            ("processing", f"{data.run_seconds:.1f} s ({data.frames / data.run_seconds:.1f} fps)")
        )
    from vidkeys import __version__

    figures.append(("vidkeys", __version__))
    body = [
        f"<h1>vidkeys report: {html.escape(data.title)}</h1>",
        '<table class="figures">',
        *(f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in figures),
        "</table>",
    ]
    if shown:
        body += ["<h2>When each face is present</h2>", _timeline(shown, data.frames)]
        body.append("<h2>Faces</h2>")
    else:
        body.append("<p>No face was found.</p>")
    # A line breaks where a face was gone for more than 3 frames (or 1.5 buckets).
    gap = max(3.0 / (data.fps or 30.0), 1.5 * data.duration / MAX_POINTS)
    for face in shown:
        thumb = (
            f'<img src="{face.thumbnail}" alt="face {face.face_id}">'
            if face.thumbnail
            else '<div class="nothumb"></div>'
        )
        present = len(face.index) / (data.fps or 30.0)
        rate = 60 * face.blinks() / present if present > 0 else 0.0
        meta = (
            f'<div class="meta"><b style="color:{_colour(face.face_id)}">face {face.face_id}'
            f"</b><br>{_clock(face.time[0])} - "
            f"{_clock(face.time[-1])}<br>present {present:.1f} s<br>"
            f"confidence {face.confidence.mean():.2f}<br>"
            f"success {100 * face.success.mean():.0f} %<br>"
            f'<span style="color:{BLINK_COLOUR}">blinks {face.blinks()}</span> '
            f"({rate:.1f}/min)<br>"
            f'<span style="color:{WINK_COLOUR}">winks {face.winks()}</span></div>'
        )
        pose = _chart(
            "head pose, degrees",
            [
                ("pitch", "#c0392b", face.pose[:, 0], "mean"),
                ("yaw", "#27ae60", face.pose[:, 1], "mean"),
                ("roll", "#2e6fd8", face.pose[:, 2], "mean"),
            ],
            face.time,
            data.duration,
            -60,
            60,
            gap,
            marks=(0,),
        )
        eyes = _chart(
            "eye openness (1: as usual, lowest in each stretch), mouth aspect ratio",
            [
                ("eyes", BLINK_COLOUR, face.openness, "min"),
                ("mouth", "#d35400", face.mar, "mean"),
            ],
            face.time,
            data.duration,
            0,
            1.5,
            gap,
            marks=(SHUT, 1.0),
            ticks=[
                (b.start_time, BLINK_COLOUR if b.eyes == "both" else WINK_COLOUR)
                for b in face.events
            ],
        )
        body.append(f'<div class="face">{thumb}{meta}<div class="charts">{pose}{eyes}</div></div>')
    if rest:
        body.append(
            f"<p>{len(rest)} more faces, each present for {max(len(f.index) for f in rest)} "
            "frames or fewer, are not drawn.</p>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>vidkeys report: {html.escape(data.title)}</title>"
        f"<style>{_CSS}</style></head><body>{''.join(body)}</body></html>\n"
    )


# --- the command --------------------------------------------------------------


@dataclass
class ReportSummary:
    """What ``make_report`` did: where the page went, its size, and the time taken."""

    output: Path
    bytes: int
    seconds: float
    run_seconds: float | None
    faces: int

    def line(self) -> str:
        run = f" (pipeline {self.run_seconds:.1f} s)" if self.run_seconds else ""
        return (
            f"{self.faces} faces, report in {self.seconds:.2f} s{run}, "
            f"{self.bytes / 1e6:.2f} MB -> {self.output}"
        )


def default_report_path(source: Path | str) -> Path:
    """``IN.report.html`` next to the input (a CSV ``clip.keypoints.csv``: ``clip.report.html``)."""
    if is_stream(str(source)):
        return Path(f"{source_stem(source)}.report.html")
    path = Path(source)
    stem = csv_stem(path) if path.suffix.lower() == ".csv" else source_stem(path)
    return path.parent / f"{stem}.report.html"


def make_report(
    source: Path | str,
    output: Path | str | None = None,
    video: Path | str | None = None,
    config: object = None,
    inputs: object = None,
    quiet: bool = True,
) -> ReportSummary:
    """Write the report of a video (runs the pipeline) or of a vidkeys CSV plus its video."""
    from vidkeys.jobs import SourceOptions, _progress

    start = time.perf_counter()
    run_seconds = None
    text = str(source)
    output = Path(output) if output is not None else default_report_path(source)
    if output.suffix.lower() not in (".html", ".htm"):
        raise VidkeysError(f"{output}: the report is HTML: give a name ending in .html")
    if not is_stream(text) and Path(text).suffix.lower() == ".csv":
        csv = Path(text)
        if not csv.is_file():
            raise VidkeysError(f"input not found: {csv}")
        window = inputs if isinstance(inputs, SourceOptions) else SourceOptions()
        faces, rows = read_csv(csv, window.start, window.end)
        video = video if video is not None else find_video(csv)
        if video is None:
            raise VidkeysError(f"{csv}: no video found beside it for the thumbnails: give --video")
        probe = FrameSource(video, gray=True)
        probe.close()
        info = probe.info
        frames = info.frames or (max((int(f.index[-1]) for f in faces.values()), default=0) + 1)
        title = csv.name
    else:
        if text == "-":
            raise VidkeysError("the report reads its video twice: give a file or URL, not -")
        from vidkeys.pipeline import VideoRun

        opts = inputs if isinstance(inputs, SourceOptions) else SourceOptions()
        run = VideoRun(text, config, keep_images=False, **opts.kwargs())  # type: ignore[arg-type]
        info = run.info
        t0 = time.perf_counter()
        with _progress(run, quiet) as bar:

            def results():
                for result in run:
                    bar.update(1)
                    yield result

            faces, rows = collect(results())
        run_seconds = time.perf_counter() - t0
        frames = max(run.frames, info.frames or 0)
        video = text
        title = source_stem(text) if is_stream(text) else Path(text).name
    ordered = sorted(faces.values(), key=lambda f: (-len(f.index), f.face_id))
    add_thumbnails(ordered[:MAX_FACES], video, info)
    fps = info.fps or 30.0
    duration = frames / fps if info.kind != "image" else 1.0
    data = ReportData(
        title, frames, fps, info.width, info.height, duration, ordered, rows, run_seconds
    )
    # A file name in another encoding (Latin-1 bytes) reaches Python as surrogates,
    # which UTF-8 cannot hold: the page shows them as "?", the rest as written.
    page = render(data).encode("utf-8", "replace").decode("utf-8")
    with AtomicOutputs() as outs:
        tmp = outs.add(output)
        try:
            tmp.write_text(page, encoding="utf-8")
        except OSError as exc:
            raise VidkeysError(f"cannot write {output}: {exc.strerror}") from exc
        outs.commit()
    return ReportSummary(
        output, len(page.encode()), time.perf_counter() - start, run_seconds, len(faces)
    )
