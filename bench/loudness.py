"""Loudness figures: how equal the parts of a programme are, and what levelling a clip costs.

    .venv/bin/python bench/loudness.py [--runs 3]

1. Builds a programme of 10 items x 3 languages: vi voiced by espeak-ng, blt and hmn from recordings
   made here at levels from -40 to -3 dBFS, some of them quiet with one loud click. Each part is cut
   from the programme's MP3 as listeners get it and measured (EBU R128, ffmpeg ebur128): the largest
   deviation from the target in LU, against the same parts levelled by RMS (the old way) in the same run.
2. Levels a 3-minute recording into the cache (two-pass loudnorm and the check), median of --runs,
   against decoding and writing the same clip unlevelled: seconds and the ratio.
Everything runs in a temporary folder with SQLite; nothing touches ./data.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydub import AudioSegment  # noqa: E402

from bench.loudspeaker import CHANNEL, make_app  # noqa: E402
from channels.loudspeaker.loudness import measure  # noqa: E402
from channels.loudspeaker.programme import Item, Layout, Piece, assemble, export_mp3  # noqa: E402
from channels.loudspeaker.tts import Voices  # noqa: E402


def recording(path: Path, seconds: float, level_db: float, frequency: int, click: bool) -> Path:
    """A stand-in recording: a tone peaking at ``level_db``; with ``click``, one 4 ms burst near full scale."""
    chain = f"[0]volume={level_db + 18}dB"  # lavfi's sine peaks at -18 dBFS
    inputs = ["-f", "lavfi", "-t", str(seconds), "-i", f"sine=f={frequency}:r=22050"]
    if click:
        inputs += ["-f", "lavfi", "-t", "0.004", "-i", "anoisesrc=a=0.99:c=white:r=22050"]
        chain += "[t];[1]adelay=1500[c];[t][c]amix=inputs=2:normalize=0"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex", chain, str(path)], check=True)
    return path


def part_loudness(mp3: Path, part: dict, folder: Path) -> float:
    cut = folder / f"cut-{part['start_ms']}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{part['start_ms'] / 1000:.3f}", "-t",
                    f"{part['duration_ms'] / 1000:.3f}", "-i", str(mp3), str(cut)], check=True)
    return measure(cut).lufs


def _raw_espeak(text: str, out: Path) -> Path:
    """The voice as espeak-ng makes it, before any levelling."""
    subprocess.run(["espeak-ng", "-v", "vi", "-s", "150", "-w", str(out), text], check=True)
    return out


def rms_levelled(audio: AudioSegment, target_dbfs: float = -18.0) -> AudioSegment:
    """The old levelling, for comparison: RMS to the target, the peak kept under -1 dBFS."""
    return audio.apply_gain(min(target_dbfs - audio.dBFS, -1.0 - audio.max_dBFS))


def programme(app, folder: Path) -> None:
    broadcaster = app.broadcaster()
    s = broadcaster.programmes.channel(CHANNEL).settings
    voices = broadcaster.programmes.voices(s.sample_rate)
    loud = app.config.speech.loudness
    items, sources = [], []
    for n in range(10):
        text = (f"Thông báo số {n + 1}: UBND xã Mường La thông báo lịch tiêm chủng mở rộng tháng 9 tại trạm y tế "
                f"xã, từ 7 giờ 30 đến 11 giờ các ngày thứ Hai và thứ Năm.")
        pieces = [Piece(n * 3 + 1, f"B-{n}.1", "vi", voices.voice(text, "vi"))]
        sources.append(_raw_espeak(text, folder / f"espeak-{n}.wav"))
        for i, lang in enumerate(("blt", "hmn")):
            level = -40 + (n * 2 + i) * 2  # peaks from -40 to -2 dBFS
            path = recording(folder / f"rec-{n}-{lang}.wav", 4 + i, level, 300 + 40 * n, click=(n + i) % 3 == 0)
            pieces.append(Piece(n * 3 + 2 + i, f"B-{n}.{2 + i}", lang, voices.voice(text, lang, path)))
            sources.append(path)
        items.append(Item(n, f"B-{n}", f"Thông báo {n + 1}", "normal", pieces))
    layout = Layout(s.gap_ms, s.item_gap_ms, loud.target_lufs, loud.true_peak_dbtp, s.sample_rate)
    audio, parts = assemble(items, [voices.voice(s.station_id, "vi")], [voices.voice(s.outro, "vi")], layout)
    mp3 = folder / "programme.mp3"
    export_mp3(audio, mp3, bitrate=s.bitrate, sample_rate=s.sample_rate, channels=s.audio_channels)
    levels = [part_loudness(mp3, part, folder) for part in parts]
    worst = max(abs(level - loud.target_lufs) for level in levels)

    old_levels = []
    for index, source in enumerate(sources):
        path = folder / f"old-{index}.wav"
        rms_levelled(AudioSegment.from_file(source)).export(path, format="wav")
        old_levels.append(measure(path).lufs)
    old_spread = max(old_levels) - min(old_levels)
    print(f"programme of 10 items x 3 languages ({len(parts)} parts, inputs -40 to -2 dBFS, some with a click):")
    print(f"  target {loud.target_lufs} LUFS, true peak <= {loud.true_peak_dbtp} dBTP: parts from {min(levels):.1f} "
          f"to {max(levels):.1f} LUFS, largest deviation {worst:.2f} LU (goal <= 1.0)")
    print(f"  the same parts levelled by RMS (before): {min(old_levels):.1f} to {max(old_levels):.1f} LUFS, "
          f"spread {old_spread:.1f} LU")


def three_minutes(app, folder: Path, runs: int) -> None:
    source = recording(folder / "ba-phut.m4a", 180, -24, 440, click=True)
    s = app.broadcaster().programmes.channel(CHANNEL).settings
    levelled, plain = [], []
    for run in range(runs):
        voices = Voices(app.config.speech, folder / f"cache-{run}", s.sample_rate)
        began = time.perf_counter()
        voices.voice("", "blt", source)
        levelled.append(time.perf_counter() - began)
        began = time.perf_counter()
        AudioSegment.from_file(source).set_frame_rate(s.sample_rate).set_channels(1).export(
            folder / f"plain-{run}.wav", format="wav")
        plain.append(time.perf_counter() - began)
    lev, base = statistics.median(levelled), statistics.median(plain)
    print(f"a 3-minute recording into the cache: levelled {lev:.2f} s, decoded and written unlevelled {base:.2f} s "
          f"({lev / base:.1f}x; median of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="cchc-bench-") as work:
        folder = Path(work)
        app = make_app(folder)
        programme(app, folder)
        three_minutes(app, folder, args.runs)
        app.engine.dispose()


if __name__ == "__main__":
    main()
