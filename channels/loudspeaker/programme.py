"""Chương trình phát: the audio of one slot, assembled with pydub.

Running order: jingle, station ID, the items by priority (each in vi, then blt, then hmn, with a
short gap between languages and a longer one between items), outro, jingle. Every voice clip comes
from the cache levelled to one EBU R128 loudness under a true-peak ceiling (``loudness``), and the
chime is brought to it, so a quiet phone recording and a loud TTS clip come out alike. Items that do
not fit the slot's maximum length are returned to the caller, which rolls them over to the next slot.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from pydub import AudioSegment
from pydub.generators import Sine

from channels.loudspeaker.loudness import measure
from channels.loudspeaker.tts import Clip

LANGUAGE_ORDER = {"vi": 0, "blt": 1, "hmn": 2}
JINGLE_NOTES = [(523.25, 180), (659.25, 180), (783.99, 180), (1046.5, 520)]  # C5 E5 G5 C6, a chime


@dataclass
class Piece:
    """One item in one language: the delivery it fulfils and the clip that voices it."""

    delivery_id: int
    ref_code: str
    lang: str
    clip: Clip


@dataclass
class Item:
    announcement_id: int
    ref_code: str
    title: str
    priority: str
    pieces: list[Piece] = field(default_factory=list)

    def length_ms(self, gap_ms: int) -> int:
        return sum(p.clip.duration_ms for p in self.pieces) + gap_ms * max(len(self.pieces) - 1, 0)


@dataclass(frozen=True)
class Layout:
    """Timing numbers of a programme, from the settings of its channel, and the loudness every part has
    (``speech.toml`` ``[loudness]``: the clips come levelled from the cache; the chime is brought to it)."""

    gap_ms: int
    item_gap_ms: int
    target_lufs: float
    true_peak_dbtp: float
    sample_rate: int


def jingle(sample_rate: int) -> AudioSegment:
    """A short rising chime made here from sine tones: no third-party recording to license."""
    tune = AudioSegment.silent(duration=0, frame_rate=sample_rate)
    for frequency, length in JINGLE_NOTES:
        tone = Sine(frequency, sample_rate=sample_rate).to_audio_segment(duration=length, volume=-12)
        overtone = Sine(frequency * 2, sample_rate=sample_rate).to_audio_segment(duration=length, volume=-24)
        tune += tone.overlay(overtone).fade_in(10).fade_out(min(length // 2, 200))
    return tune.set_channels(1)


_CHIME_LUFS: dict[int, float] = {}  # the generated chime's own loudness, by sample rate (measured once)


def chime(layout: Layout) -> AudioSegment:
    """The jingle at the programme's loudness target (its peaks kept under the ceiling)."""
    tune = jingle(layout.sample_rate)
    if layout.sample_rate not in _CHIME_LUFS:
        with tempfile.TemporaryDirectory(prefix="cchc-chime-") as work:
            path = Path(work) / "chime.wav"
            tune.export(path, format="wav")
            _CHIME_LUFS[layout.sample_rate] = measure(path).lufs
    gain = min(layout.target_lufs - _CHIME_LUFS[layout.sample_rate], layout.true_peak_dbtp - tune.max_dBFS)
    return tune.apply_gain(gain)


def fit(items: list[Item], budget_ms: int, layout: Layout) -> tuple[list[Item], list[Item]]:
    """Items that fit in ``budget_ms`` in the given (priority) order, and those that do not.

    A smaller item further down may still fit after a big one was left out; order is kept otherwise.
    """
    kept, rolled, used = [], [], 0
    for item in items:
        needed = item.length_ms(layout.gap_ms) + (layout.item_gap_ms if kept else 0)
        if used + needed <= budget_ms:
            kept.append(item)
            used += needed
        else:
            rolled.append(item)
    return kept, rolled


def fixed_ms(opening: list[Clip], closing: list[Clip], layout: Layout, jingle: Clip | None = None) -> int:
    """How long a programme lasts without its items: jingles, station ID, outro and the gaps around them."""
    tune = jingle.duration_ms if jingle else sum(length for _, length in JINGLE_NOTES)  # the chime's length
    spoken = [clip.duration_ms for clip in opening + closing]
    gaps = max(len(opening) - 1, 0) + max(len(closing) - 1, 0) + 2
    return 2 * tune + sum(spoken) + gaps * layout.gap_ms + 2 * layout.item_gap_ms


def assemble(items: list[Item], opening: list[Clip], closing: list[Clip], layout: Layout,
             jingle: Clip | None = None) -> tuple[AudioSegment, list[dict]]:
    """The programme audio and its parts: where each piece starts and how long it lasts (ms).

    ``opening``: the station ID (Vietnamese, then each other language of the programme), ``closing``:
    the outro likewise; ``jingle``: the station's own, or None for the generated chime."""
    rate = layout.sample_rate
    tune = jingle.audio() if jingle else chime(layout)
    silence = AudioSegment.silent(duration=layout.gap_ms, frame_rate=rate)
    pause = AudioSegment.silent(duration=layout.item_gap_ms, frame_rate=rate)

    def spoken(clips: list[Clip]) -> list[AudioSegment]:
        joined: list[AudioSegment] = []
        for clip in clips:
            joined += [silence, clip.audio()] if joined else [clip.audio()]
        return joined

    segments: list[AudioSegment] = [tune, silence, *spoken(opening), pause]
    parts: list[dict] = []
    position = sum(len(s) for s in segments)
    for index, item in enumerate(items):
        if index:
            segments.append(pause)
            position += len(pause)
        for number, piece in enumerate(sorted(item.pieces, key=lambda p: LANGUAGE_ORDER.get(p.lang, 9))):
            if number:
                segments.append(silence)
                position += len(silence)
            voice = piece.clip.audio()  # levelled to the target as it entered the cache
            parts.append({
                "delivery_id": piece.delivery_id, "ref_code": piece.ref_code, "lang": piece.lang,
                "announcement_id": item.announcement_id, "title": item.title, "priority": item.priority,
                "engine": piece.clip.engine, "voice": piece.clip.voice, "lufs": piece.clip.lufs,
                "start_ms": position, "duration_ms": len(voice), "played": False,
            })
            segments.append(voice)
            position += len(voice)
    segments += [pause, *spoken(closing), silence, tune]
    # One concatenation over raw bytes is much faster than repeated ``+`` on long programmes.
    audio = segments[0]._spawn(b"".join(s.set_frame_rate(rate).raw_data for s in segments))
    return audio, parts


def export_mp3(audio: AudioSegment, path: Path, *, bitrate: str, sample_rate: int, channels: int) -> None:
    """Encode constant-bitrate MP3 (Icecast paces by bitrate) through a temporary file, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".wav") as wav:
        audio.export(wav.name, format="wav")
        tmp = Path(wav.name).with_suffix(".mp3")
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", wav.name, "-ac", str(channels),
             "-ar", str(sample_rate), "-c:a", "libmp3lame", "-b:a", bitrate, "-f", "mp3", str(tmp)],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if result.returncode != 0:
            tmp.unlink(missing_ok=True)
            raise RuntimeError(f"ffmpeg could not encode the programme: {result.stderr.strip()[:300]}")
        tmp.replace(path)
