"""Action units and blink events (`--aus`): the rule on made sequences of points, the
columns against a real OpenFace file, and blinks checked by eye on a real clip.

The real OpenFace file is ``OpenFace_Test.csv`` in ``VIDKEYS_OPENFACE``; the real
clip is ``lp_s20.mp4`` in ``VIDKEYS_VIDEOS2``. Each test that needs one is
skipped when its variable is unset.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import vidkeys
from tests.helpers import PHOTO, SAMPLE, template_points
from vidkeys.cli import app
from vidkeys.jobs import export_file
from vidkeys.keypoints.actions import (
    AU_DTYPE,
    BASELINE_SECONDS,
    SHUT,
    ActionUnits,
)
from vidkeys.keypoints.features import FEATURE_COLUMNS
from vidkeys.outputs.export import COLUMNS, KeypointSink, columns
from vidkeys.outputs.report import make_report
from vidkeys.results import Blink, Faces

pd = pytest.importorskip("pandas")

FPS = 30.0
OURS = ["AU25_r", "AU26_r", "AU45_r", "AU25_c", "AU26_c", "AU45_c"]
BOX = ["box_x", "box_y", "box_w", "box_h"]


def face(right: float = 1.0, left: float = 1.0, lips: float = 0.0, jaw: float = 0.0) -> np.ndarray:
    """A cartoon face's 68 points (pixels, eye distance 220): each eye open by
    ``right`` / ``left`` of its usual height, the lips parted by ``lips`` and the
    chin dropped by ``jaw`` eye distances."""
    p = template_points()
    for first, share in ((36, right), (42, left)):  # each eye's lids about y = -0.3
        p[first : first + 6, 1] = -0.3 + (p[first : first + 6, 1] + 0.3) * share
    p[60:68, 1] = 0.55  # inner lips together
    p[[65, 66, 67], 1] += lips * 1.1
    p[55:60, 1] += lips * 1.1
    chin = np.arange(4, 13)  # the lower jaw line, the chin in the middle
    p[chin, 1] += jaw * 1.1 * np.sin(np.linspace(0.3, np.pi - 0.3, len(chin)))
    return p * 200 + 300


def frames_of(*faces: np.ndarray, confidence: float = 0.9) -> Faces:
    """One frame's Faces: ids 0, 1, ... for the given points."""
    n = len(faces)
    return Faces(
        np.arange(n),
        np.zeros((n, 4)),
        np.stack(faces),
        np.full(n, confidence),
        np.zeros((n, 3)),
        np.zeros((n, 3)),
        np.ones((n, 68)),
    )


def run(sequence: list[np.ndarray]) -> tuple[list[Faces], list[list[Blink]]]:
    """One face's points, frame by frame at 30 fps, through ActionUnits."""
    actions = ActionUnits()
    out, events = [], []
    for i, points in enumerate(sequence):
        faces, ended = actions(i, i / FPS, frames_of(points))
        out.append(faces)
        events.append(ended)
    return out, events


def column(faces: list[Faces], name: str) -> np.ndarray:
    return np.array([f.aus[name][0] for f in faces])


def test_a_blink_a_wink_each_way_and_a_long_closure() -> None:
    open_, shut = face(), face(0.05, 0.05)
    seq = [open_] * 60 + [face(0.4, 0.4), shut, shut, face(0.45, 0.45)] + [open_] * 30
    seq += [face(0.05, 1.0)] * 3 + [open_] * 30  # the right eye alone: a wink
    seq += [face(0.9, 0.1)] * 5 + [open_] * 30  # the left
    seq += [shut] * 60 + [open_] * 5  # two seconds shut
    faces, events = run(seq)
    au45 = column(faces, "AU45_c")
    ended = [(i, b) for i, found in enumerate(events) for b in found]
    assert [(b.start, b.end, b.eyes) for _, b in ended] == [
        (60, 63, "both"),
        (94, 96, "right"),
        (127, 131, "left"),
        (162, 221, "both"),
    ]
    # Each event is told on the frame the eyes are seen open again.
    assert [i for i, _ in ended] == [64, 97, 132, 222]
    blink = ended[0][1]
    assert blink.face_id == 0 and blink.start_time == pytest.approx(2.0)
    assert blink.end_time == pytest.approx(63 / FPS) and blink.duration == pytest.approx(4 / FPS)
    assert ended[3][1].duration == pytest.approx(2.0)
    # One rule: AU45_c is 1 on exactly the events' frames.
    expected = np.zeros(len(seq), int)
    for _, b in ended:
        expected[b.start : b.end + 1] = 1
    np.testing.assert_array_equal(au45, expected)
    au45_r = column(faces, "AU45_r")
    assert au45_r[:60].max() == 0 and au45_r[61] == pytest.approx(4.75)
    assert (au45_r >= 0).all() and (au45_r <= 5).all()
    np.testing.assert_allclose(column(faces, "eye_open_right")[94], 0.05, atol=1e-6)
    np.testing.assert_allclose(column(faces, "eye_open_left")[94], 1.0, atol=1e-6)


def test_half_open_eyes_under_a_narrower_baseline_and_the_hysteresis() -> None:
    # A face whose eyes are usually narrow reads them as open; dips between
    # SHUT and the reopening level keep one closure one.
    narrow = face(0.6, 0.6)
    seq = [narrow] * 90 + [face(0.2, 0.2), face(0.34, 0.34), face(0.2, 0.2)] + [narrow] * 10
    faces, events = run(seq)
    assert column(faces, "AU45_c")[:90].sum() == 0
    assert column(faces, "eye_open_right")[89] == pytest.approx(1.0)
    assert [(b.start, b.end) for found in events for b in found] == [(90, 92)]
    assert SHUT < 0.34 / 0.6  # the middle frame is over SHUT, still one closure


def test_a_closure_with_no_reopening_is_no_event() -> None:
    faces, events = run([face()] * 30 + [face(0.05, 0.05)] * 20)
    assert not any(events)
    assert column(faces, "AU45_c")[30:].all()


def test_untrusted_rows_do_not_move_the_baseline() -> None:
    actions = ActionUnits()
    for i in range(60):
        actions(i, i / FPS, frames_of(face()))
    # Five seconds of points not to be trusted with half-shut eyes ...
    for i in range(60, 210):
        actions(i, i / FPS, frames_of(face(0.45, 0.45), confidence=0.2))
    # ... leave the usual open eye where it was.
    faces, _ = actions(210, 210 / FPS, frames_of(face(0.45, 0.45)))
    assert faces.aus["eye_open_right"][0] == pytest.approx(0.45, abs=0.01)
    assert faces.aus["AU45_c"][0] == 1


def test_faces_are_followed_apart_and_forgotten() -> None:
    actions = ActionUnits()
    seen = []
    for i in range(80):
        one = face(0.05, 0.05) if 40 <= i < 43 else face()
        faces, ended = actions(i, i / FPS, frames_of(one, face()))
        seen += ended
        assert faces.aus["AU45_c"][1] == 0
    assert [(b.face_id, b.start, b.end) for b in seen] == [(0, 40, 42)]
    assert actions(400, 400 / FPS, frames_of(face()))[0].aus["AU45_c"][0] == 0
    assert len(actions._tracks) == 1  # face 1, unseen for a whole window, is gone
    assert BASELINE_SECONDS < (400 - 80) / FPS


def test_lips_part_and_the_jaw_drops() -> None:
    seq = [face()] * 60 + [face(lips=0.1)] * 10 + [face(lips=0.3, jaw=0.3)] * 10
    seq += [face(jaw=0.3)] * 10
    faces, _ = run(seq)
    au25, au26 = column(faces, "AU25_c"), column(faces, "AU26_c")
    assert au25[:60].sum() == 0 and au26[:60].sum() == 0
    assert au25[60:70].all() and not au26[60:70].any()  # lips apart, jaw where it was
    assert au25[70:80].all() and au26[70:80].all()  # both
    assert not au26[80:90].any()  # a longer chin with shut lips is not a jaw drop
    assert column(faces, "AU25_r")[75] == 5.0 and 0 < column(faces, "AU25_r")[65] < 5.0
    assert column(faces, "AU26_r")[75] == 5.0 and column(faces, "AU26_r")[65] < 1.0


def test_no_face_and_the_table_of_a_run_without_aus() -> None:
    faces, ended = ActionUnits()(0, 0.0, Faces.empty())
    assert len(faces) == 0 and faces.aus.dtype == AU_DTYPE and ended == []
    assert Faces.empty().aus.dtype.names == ()
    frame = next(iter(vidkeys.process(str(PHOTO))))
    assert frame.faces.aus.dtype.names == () and frame.blinks == ()
    with_aus = next(iter(vidkeys.process(str(PHOTO), aus=True)))
    assert with_aus.faces.aus.dtype == AU_DTYPE
    assert with_aus.faces[0].aus.dtype == AU_DTYPE
    np.testing.assert_array_equal(with_aus.faces.points, frame.faces.points)


def read_openface(path: Path) -> pd.DataFrame:
    """As py-feat's ``read_openface`` reads an OpenFace CSV: pandas, names stripped."""
    frame = pd.read_csv(path)
    frame.columns = [c.strip() for c in frame.columns]
    return frame


@pytest.mark.parametrize("openface", [False, True])
def test_au_columns_by_name_match_a_real_openface_file(tmp_path: Path, openface: bool) -> None:
    out = tmp_path / "a.csv"
    export_file(SAMPLE, out, quiet=True, openface=openface, config=vidkeys.PipelineConfig(aus=True))
    ours = read_openface(out)
    assert [c for c in ours.columns if c.startswith("AU")] == OURS
    assert list(ours.columns) == columns(aus=True)
    assert list(ours.columns[-6:]) == [*BOX, "eye_open_right", "eye_open_left"]
    assert ours["AU45_r"].between(0, 5).all() and set(ours["AU45_c"]) <= {0, 1}
    folder = os.environ.get("VIDKEYS_OPENFACE")
    if not folder:
        pytest.skip("VIDKEYS_OPENFACE is not set")
    real = read_openface(Path(folder) / "OpenFace_Test.csv")
    # OpenFace's block: every intensity, then every presence; vidkeys' units in that order.
    theirs = [c for c in real.columns if c.startswith("AU")]
    assert [c for c in theirs if c in OURS] == OURS
    for name in OURS:
        assert ours[name].dtype == real[name].dtype, name
    # What scripts written for OpenFace do works on both.
    for d in (real, ours):
        assert d.loc[d["success"] == 1, "AU45_c"].isin([0, 1]).all()
        assert d.filter(regex=r"^AU\d+_r$").max().max() <= 5


def test_without_aus_no_unit_is_written(tmp_path: Path) -> None:
    out = tmp_path / "a.csv"
    export_file(SAMPLE, out, quiet=True, features=True)
    d = read_openface(out)
    assert list(d.columns) == COLUMNS + list(FEATURE_COLUMNS)
    assert not [c for c in d.columns if c.startswith(("AU", "eye_open"))]
    lines = tmp_path / "a.jsonl"
    export_file(SAMPLE, lines, "jsonl", quiet=True)
    record = json.loads(lines.read_text().splitlines()[0])
    assert "blinks" not in record
    assert not [k for k in record["faces"][0] if k.startswith(("AU", "eye_open"))]
    with pytest.raises(vidkeys.VidkeysError, match="aus=True"):
        KeypointSink(tmp_path / "b.csv", aus=True).write(next(iter(vidkeys.process(str(PHOTO)))))


def test_cli_export_and_batch_take_aus(tmp_path: Path) -> None:
    runner = CliRunner()
    lines = tmp_path / "a.jsonl"
    args = ["export-csv", str(SAMPLE), "-o", str(lines), "--format", "jsonl", "--aus", "-q"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    records = [json.loads(x) for x in lines.read_text().splitlines()]
    assert all(r["blinks"] == [] for r in records)  # the astronaut does not blink
    one = records[0]["faces"][0]
    assert [k for k in one if k.startswith("AU")] == OURS
    assert one["AU45_c"] in (0, 1) and isinstance(one["eye_open_left"], float)
    out = tmp_path / "out"
    batch = ["batch", str(SAMPLE), "-o", str(out), "--csv-only", "--workers", "1", "-q"]
    result = runner.invoke(app, [*batch, "--aus"])
    assert result.exit_code == 0, result.stderr
    assert "AU45_c" in read_openface(out / "astronaut.keypoints.csv").columns
    record = json.loads((out / "manifest.jsonl").read_text().splitlines()[-1])
    assert json.loads(record["options"])["aus"] is True  # a rerun without it redoes it
    plain = tmp_path / "plain"
    assert (
        runner.invoke(app, ["batch", str(SAMPLE), "-o", str(plain), "--csv-only", "-q"]).exit_code
        == 0
    )
    record = json.loads((plain / "manifest.jsonl").read_text().splitlines()[-1])
    assert "aus" not in json.loads(record["options"])  # earlier manifests stay valid


VIDEOS2 = os.environ.get("VIDKEYS_VIDEOS2")


@pytest.fixture(scope="module")
def real_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path, Path, Path]:
    """lp_s20 through the pipeline once with aus: its truth, video, CSV and JSON lines."""
    if not VIDEOS2:
        pytest.skip("VIDKEYS_VIDEOS2 is not set")
    folder = Path(VIDEOS2)
    truth = json.loads((folder / "truth" / "lp_s20.json").read_text())
    video = folder / truth["clip"]
    tmp = tmp_path_factory.mktemp("s20")
    table, lines = tmp / "lp_s20.keypoints.csv", tmp / "lp_s20.jsonl"
    sinks = [KeypointSink(table, aus=True), KeypointSink(lines, "jsonl", aus=True)]
    for result in vidkeys.process(str(video), aus=True):
        for sink in sinks:
            sink.write(result)
    for sink in sinks:
        sink.close()
    return truth, video, table, lines


def test_a_real_clips_blinks_checked_by_eye_are_found(real_clip) -> None:
    truth, _, table, lines = real_clip
    d = read_openface(table)
    au45 = d["AU45_c"].to_numpy()
    onsets = np.flatnonzero(au45 & ~np.concatenate([[0], au45[:-1]]))
    blinks = truth["blinks"]
    assert len(blinks) == 4
    for first, last in blinks:  # each found, within 2 frames
        assert any(first - 2 <= k <= last + 2 for k in onsets), (first, last)
    assert len(onsets) == len(blinks)  # and nothing else
    events = [b for r in map(json.loads, lines.read_text().splitlines()) for b in r["blinks"]]
    assert [e["eyes"] for e in events] == ["both"] * 4
    for event in events:  # the events are AU45_c's runs
        shut = d.loc[d["frame"].between(event["start"], event["end"]), "AU45_c"]
        assert (shut == 1).all() and len(shut) == event["end"] - event["start"] + 1
        assert d.loc[d["frame"] == event["end"] + 1, "AU45_c"].item() == 0
        assert 0.03 <= event["duration"] <= 0.5
    closed = np.zeros(len(d), bool)
    for first, last in truth["mouth_closed"]:
        closed[first : last + 1] = True
    assert d["AU25_c"][closed].mean() < 0.2


def test_the_report_counts_the_same_blinks(real_clip, tmp_path: Path) -> None:
    _, video, table, _ = real_clip
    summary = make_report(table, tmp_path / "r.html", video=video)
    page = summary.output.read_text()
    assert "blinks 4</span>" in page and "winks 0</span>" in page
    assert page.count('stroke="#8e44ad" stroke-width="2"') == 4  # a mark per blink
