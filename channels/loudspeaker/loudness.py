"""EBU R128 loudness: every clip of a programme at one integrated loudness, under a true-peak ceiling.

A clip is levelled once, when it enters the voice cache (``Voices``), in two passes with ffmpeg: the
first measures it (``ebur128``: integrated loudness, true peak), the second applies one gain, so the
clip's own dynamics are kept. Where that gain would push the true peak over the ceiling (a quiet
recording with one loud click), a limiter holds the peaks and the loudness is topped up. Levelling
by RMS left such a clip 10 LU quieter than a clean one in the same programme; measured in LUFS,
listeners hear each part alike.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

TOLERANCE_LU = 0.3  # after levelling a clip is re-measured; further off than this, a plain gain corrects it
CORRECTIONS = 4  # at most this many (a limited gain adds less loudness than its decibels)


class LoudnessError(Exception):
    pass


@dataclass(frozen=True)
class Loudness:
    lufs: float  # integrated loudness (LUFS); -inf for silence
    true_peak: float  # dBTP


def measure(path: Path) -> Loudness:
    """Integrated loudness and true peak of an audio file (ffmpeg ``ebur128``)."""
    return _summary(_ffmpeg(["-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"]), path)


def _summary(text: str, path: Path) -> Loudness:
    """The loudness ffmpeg's ``ebur128`` filter printed at the end of its run."""
    summary = text[text.rfind("Summary:"):]
    lufs = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not lufs or not peak:
        raise LoudnessError(f"ffmpeg không đo được độ to của {path.name}")
    return Loudness(float(lufs.group(1)), float(peak.group(1)))


def normalize(source: Path, out: Path, *, target: float, true_peak: float, sample_rate: int) -> Loudness:
    """Write ``source`` levelled to ``target`` LUFS with its true peak at most ``true_peak`` dBTP, as a
    mono WAV at ``sample_rate``; returns the loudness of what was written.

    Two passes, as R128 levelling goes: measure, then one gain. Where that gain would lift the true
    peak over the ceiling, a limiter holds the peaks and the loudness is measured again and topped up
    (a limited gain adds less loudness than its decibels), at most ``CORRECTIONS`` times."""
    found = measure(source)
    if found.lufs == float("-inf"):
        raise LoudnessError("đoạn âm thanh im lặng, không chỉnh được độ to")
    result, current = found, source
    ceiling = true_peak - 0.3  # the limiter holds samples; peaks between them (true peak) can rise above
    for _ in range(1 + CORRECTIONS):
        off = target - result.lufs
        over = result.true_peak - true_peak
        if current is not source and abs(off) <= TOLERANCE_LU and over <= 0.1:
            break
        if current is not source and over > 0.1:
            ceiling -= over + 0.2  # a square click rings above its samples: hold the samples lower
        limit = f",alimiter=limit={10 ** (ceiling / 20):.4f}:level=false:attack=1:release=50" \
            if result.true_peak + off > true_peak else ""
        step = out.with_suffix(".step.wav")  # written and measured in the same run
        chain = f"volume={off:.2f}dB{limit},aresample={sample_rate},ebur128=peak=true"
        text = _ffmpeg(["-i", str(current), "-af", chain, "-ac", "1", "-ar", str(sample_rate), "-c:a", "pcm_s16le",
                        "-y", str(step)])
        step.replace(out)
        current = out
        result = _summary(text, out)
    return result


def _ffmpeg(args: list[str]) -> str:
    done = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-nostdin", *args], capture_output=True,
                          text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise LoudnessError(f"ffmpeg không chỉnh được độ to: {done.stderr.strip().splitlines()[-1:]}")
    return done.stderr
