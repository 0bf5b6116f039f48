"""Hard footage made from real clips: small faces coming in, a 1080p crowd.

    python benchmarks/make_clips.py SRC_DIR OUT_DIR [--seconds 8]

Real faces in real motion, placed where the pipeline struggles (the shared
clips hold neither): with the real ``ffmpeg``,

- ``small_SRC.mp4``: 640x360 at 25 fps, four of ``SRC_DIR``'s clips shrunk so
  their faces are about 20-30 px wide, on a noisy grey ground, each coming in
  at another second;
- ``crowd_SRC.mp4``: 1920x1080 at 25 fps, twelve cells of 480x360 (each clip whole,
  some twice, mirrored), cells starting at other seconds.

For :mod:`bench_reference` (no truth needed). Made clips stay outside the
repository: they are copies of the sources.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from vidkeys.io.sources import VIDEO_EXTS

FPS = 25


def sources(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_EXTS)


def small(clips: list[Path], out: Path, seconds: float) -> None:
    """Four clips at 64 px (faces 20-30 px), coming in one a second."""
    inputs, chain = (
        [],
        [f"color=c=0x505050:s=640x360:r={FPS}:d={seconds},noise=alls=12:allf=t[bg0]"],
    )
    spots = [(40, 60), (420, 40), (120, 250), (500, 240)]
    for i, clip in enumerate(clips[:4]):
        inputs += ["-stream_loop", "-1", "-i", str(clip)]
        chain.append(
            f"[{i}:v]fps={FPS},scale=64:64:force_original_aspect_ratio=increase,"
            f"crop=64:64,setpts=PTS-STARTPTS+{i}/TB[s{i}]"
        )
        x, y = spots[i]
        chain.append(f"[bg{i}][s{i}]overlay={x}:{y}:eof_action=pass[bg{i + 1}]")
    n = min(4, len(clips))
    run(inputs, ";".join(chain), f"[bg{n}]", out, seconds)


def crowd(clips: list[Path], out: Path, seconds: float) -> None:
    """Twelve 480x360 cells at 1080p, each clip's cell starting at another second."""
    inputs, chain = [], [f"color=c=black:s=1920x1080:r={FPS}:d={seconds}[bg0]"]
    for i in range(12):
        clip = clips[i % len(clips)]
        inputs += ["-stream_loop", "-1", "-i", str(clip)]
        flip = ",hflip" if i >= len(clips) else ""
        chain.append(
            f"[{i}:v]fps={FPS},scale=480:360:force_original_aspect_ratio=decrease,"
            f"pad=480:360:-1:-1{flip},setpts=PTS-STARTPTS+{i % 4}/TB[c{i}]"
        )
        x, y = 480 * (i % 4), 360 * (i // 4)
        chain.append(f"[bg{i}][c{i}]overlay={x}:{y}:eof_action=pass[bg{i + 1}]")
    run(inputs, ";".join(chain), "[bg12]", out, seconds)


def run(inputs: list[str], graph: str, last: str, out: Path, seconds: float) -> None:
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            *inputs,
            "-filter_complex",
            graph,
            "-map",
            last,
            "-t",
            str(seconds),
            "-c:v",
            "libx264",
            "-crf",
            "20",
            "-pix_fmt",
            "yuv420p",
            str(out),
        ],
        check=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seconds", type=float, default=8.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clips = sources(args.src)
    name = args.src.name
    small(clips, args.out / f"small_{name}.mp4", args.seconds)
    crowd(clips, args.out / f"crowd_{name}.mp4", args.seconds)
    print(f"made {args.out / f'small_{name}.mp4'} and {args.out / f'crowd_{name}.mp4'}")


if __name__ == "__main__":
    main()
