"""Voices: the TTS engine chain per language, translators' recordings, and the clip cache.

For each language ``config/speech.toml`` lists engines to try in order. A clip is cached by
(speech text, language, engine, voice) as a mono WAV at the programme's sample rate, and any cached
clip is used before an engine is asked again: rendering the same text twice makes no network call.
gTTS gets a timeout on every call and, after a failure, a cool-down during which the next engine is
used, so an office without internet does not wait on Google for every clip.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import time
import wave
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

from channels.base import Post
from channels.files import atomic_write
from channels.languages import LANGUAGE_NAMES
from channels.loudspeaker.config import RecordingsConfig, SpeechFile
from channels.loudspeaker.loudness import LoudnessError, normalize
from channels.loudspeaker.speech import SpeechError, SpeechText

log = logging.getLogger("cchc.tts")
MIN_CLIP_MS = 300


class VoiceError(Exception):
    """One engine could not voice one text; the message says why, in Vietnamese."""


class NoVoice(Exception):
    """No engine of the chain could voice the text: the delivery is held with this reason."""

    def __init__(self, lang: str, reasons: list[str]):
        self.lang, self.reasons = lang, reasons
        name = LANGUAGE_NAMES.get(lang, lang)
        super().__init__(f"không đọc được {name}: " + "; ".join(reasons))


@dataclass(frozen=True)
class Clip:
    path: Path
    engine: str
    voice: str
    duration_ms: int
    speech_text: str
    cached: bool
    lufs: float | None = None  # its integrated loudness, as levelled into the cache (None: not measured)

    def audio(self) -> AudioSegment:
        return AudioSegment.from_wav(self.path)


class Engine(ABC):
    """A TTS engine: it reads a text in a language into an audio file, or raises ``VoiceError`` with
    why not. Named in ``ENGINES`` and in ``config/speech.toml``'s chains; ``Voices`` caches what it
    makes and falls back along the chain."""

    name: ClassVar[str]

    @classmethod
    @abstractmethod
    def build(cls, speech: SpeechFile) -> Engine:
        """The engine with its options from ``config/speech.toml``."""

    @abstractmethod
    def voice(self, lang: str) -> str:
        """The voice it uses for ``lang`` (part of the cache key: a new voice makes new clips)."""

    @abstractmethod
    def synthesize(self, text: str, lang: str, out: Path) -> None:
        """Write the audio of ``text`` to ``out`` (any format ffmpeg reads)."""


class GttsEngine(Engine):
    """Google Translate's voice through gTTS (one HTTPS POST per ~100-character chunk)."""

    name = "gtts"

    @classmethod
    def build(cls, speech: SpeechFile) -> GttsEngine:
        return cls(speech.gtts.timeout_seconds, speech.gtts.cooldown_minutes * 60, speech.gtts.endpoint)

    def __init__(self, timeout: float, cooldown_seconds: float, endpoint: str | None = None):
        self.timeout, self.cooldown = timeout, cooldown_seconds
        self.endpoint = endpoint
        self._resting_until = 0.0
        self._lock = threading.Lock()

    def voice(self, lang: str) -> str:
        return lang

    def synthesize(self, text: str, lang: str, out: Path) -> None:
        from gtts import gTTS, gTTSError
        from gtts import tts as gtts_module

        if time.monotonic() < self._resting_until:
            raise VoiceError("gTTS vừa lỗi, đang tạm nghỉ; dùng bộ đọc tiếp theo")
        if self.endpoint:
            # gTTS has no setting for its host; its own module-level URL builder is the documented
            # way in (research/api_contracts.md §5.5). Used for a mirror, and by the tests' fake.
            base = self.endpoint.rstrip("/") + "/"
            gtts_module._translate_url = lambda tld="com", path="": base + path
        try:
            with open(out, "wb") as handle:
                gTTS(text, lang=lang, timeout=self.timeout).write_to_fp(handle)
        except (gTTSError, ValueError, OSError) as exc:
            self._rest()
            status = getattr(getattr(exc, "rsp", None), "status_code", None)
            raise VoiceError(f"gTTS lỗi{f' HTTP {status}' if status else ''}: {_short(exc)}") from None
        if out.stat().st_size == 0:  # gTTS raises nothing when the answer has no audio frame
            self._rest()
            raise VoiceError("gTTS trả về tệp rỗng (không có âm thanh)")

    def _rest(self) -> None:
        with self._lock:
            self._resting_until = time.monotonic() + self.cooldown


class EspeakEngine(Engine):
    """espeak-ng, offline and robotic; Debian's package has Vietnamese voices only (no Thai, no Mông)."""

    name = "espeak-ng"

    @classmethod
    def build(cls, speech: SpeechFile) -> EspeakEngine:
        return cls(speech.espeak.voice, speech.espeak.words_per_minute)

    def __init__(self, voice: str, words_per_minute: int):
        self._voice, self.wpm = voice, words_per_minute

    def voice(self, lang: str) -> str:
        return self._voice if lang == "vi" else lang

    def synthesize(self, text: str, lang: str, out: Path) -> None:
        program = shutil.which("espeak-ng")
        if program is None:
            raise VoiceError("chưa cài espeak-ng (chạy scripts/setup.sh)")
        if lang != "vi":
            raise VoiceError(f"espeak-ng không có giọng {LANGUAGE_NAMES.get(lang, lang)}")
        text_file = out.with_suffix(".txt")
        text_file.write_text(text, encoding="utf-8")
        try:
            result = subprocess.run(
                [program, "-v", self._voice, "-s", str(self.wpm), "-b", "1", "-w", str(out), "-f", str(text_file)],
                capture_output=True, text=True, timeout=300, check=False,
            )
        finally:
            text_file.unlink(missing_ok=True)
        if result.returncode != 0 or not out.exists():
            raise VoiceError(f"espeak-ng lỗi: {result.stderr.strip()[:200] or result.returncode}")


# The engines a chain in config/speech.toml may name (besides "recording", the translator's own voice).
ENGINES: dict[str, type[Engine]] = {engine.name: engine for engine in (GttsEngine, EspeakEngine)}


def decode(path: Path, sample_rate: int | None, *, what: str, max_seconds: float | None = None) -> AudioSegment:
    """Any audio file ffmpeg reads, as mono 16-bit PCM (resampled by ffmpeg, not audioop); at most
    ``max_seconds`` of it, whatever its header claims."""
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "decoded.wav"
        rate = ["-ar", str(sample_rate)] if sample_rate else []
        limit = ["-t", f"{max_seconds:.0f}"] if max_seconds else []
        result = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", *limit, "-ac", "1", *rate,
             "-c:a", "pcm_s16le", "-f", "wav", str(out)],
            capture_output=True, text=True, timeout=600, check=False,
        )
        if result.returncode != 0 or not out.exists():
            raise VoiceError(f"{what} không phải âm thanh đọc được (cần MP3, WAV, M4A, OGG...)")
        try:
            return AudioSegment.from_wav(out)
        except (CouldntDecodeError, IndexError, EOFError):
            raise VoiceError(f"{what} không phải âm thanh đọc được") from None


MAX_SAMPLE_RATE = 48_000
MAX_CHANNELS = 2


def probe(path: Path, limits: RecordingsConfig, max_seconds: float | None = None) -> float:
    """Check a recording from what ffprobe reads in its header, before anything is decoded: a small
    file may claim hours at 384 kHz, and decoding that would fill the memory. ``max_seconds``: a
    shorter limit than the recordings' own (a jingle); returns the length the header gives."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
         "stream=sample_rate,channels,duration:format=duration", "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=False)
    try:
        found = json.loads(result.stdout or "{}")
        stream = found["streams"][0]
        rate, channels = int(stream["sample_rate"]), int(stream["channels"])
        seconds = float(stream.get("duration") or found.get("format", {}).get("duration") or 0)
    except (ValueError, KeyError, IndexError, TypeError):
        raise VoiceError(f"tệp {path.name} không phải âm thanh đọc được (cần MP3, WAV, M4A, OGG...)") from None
    if rate > MAX_SAMPLE_RATE:
        raise VoiceError(f"tệp ghi âm {path.name} có tần số lấy mẫu {rate // 1000} kHz, tối đa "
                         f"{MAX_SAMPLE_RATE // 1000} kHz; hãy xuất lại tệp ở 44,1 hoặc 48 kHz")
    if channels > MAX_CHANNELS:
        raise VoiceError(f"tệp ghi âm {path.name} có {channels} kênh âm thanh; hãy xuất lại ở mono hoặc stereo")
    if max_seconds is not None and seconds > max_seconds:
        raise VoiceError(f"tệp ghi âm {path.name} dài {seconds:.0f} giây, tối đa {max_seconds:g} giây; hãy cắt ngắn")
    if seconds > limits.max_minutes * 60:
        raise VoiceError(f"tệp ghi âm {path.name} dài {seconds / 60:.0f} phút, tối đa {limits.max_minutes:g} phút; "
                         "hãy cắt ngắn")
    return seconds


def load_recording(path: Path, limits: RecordingsConfig, sample_rate: int | None = None, *,
                   max_seconds: float | None = None) -> AudioSegment:
    """Check a translator's recording (``probe``, with ``max_seconds`` if it must be shorter than any
    recording), then decode at most that much of it and check what it holds; ``VoiceError`` says what is
    wrong with it."""
    if not path.is_file():
        raise VoiceError(f"không tìm thấy tệp ghi âm {path.name}")
    probe(path, limits, max_seconds)
    longest = min(limits.max_minutes * 60, max_seconds or float("inf"))
    audio = decode(path, sample_rate, what=f"tệp {path.name}", max_seconds=longest + 1)
    if len(audio) < MIN_CLIP_MS:
        raise VoiceError(f"tệp ghi âm {path.name} quá ngắn ({len(audio)} ms)")
    if len(audio) > limits.max_minutes * 60_000:
        raise VoiceError(f"tệp ghi âm {path.name} dài {len(audio) / 60_000:.0f} phút, "
                         f"tối đa {limits.max_minutes:g} phút; hãy cắt ngắn")
    if audio.max_dBFS < limits.silence_dbfs:
        loudest = "không có tiếng nào" if audio.max_dBFS == float("-inf") else f"to nhất {audio.max_dBFS:.0f} dBFS"
        raise VoiceError(f"tệp ghi âm {path.name} im lặng ({loudest}); hãy ghi âm lại")
    return audio


class Voices:
    """The engine chain and the cache. ``voice()`` returns a clip or raises ``NoVoice``."""

    def __init__(self, speech: SpeechFile, cache_dir: Path, sample_rate: int):
        self.config = speech
        self.speech = SpeechText.from_config(speech)
        self.cache_dir = cache_dir
        self.sample_rate = sample_rate
        self.engines = {name: engine.build(speech) for name, engine in ENGINES.items()}

    def speech_text(self, text: str, lang: str) -> str:
        """What the voice reads: Vietnamese is expanded; other languages are read from recordings."""
        return self.speech.speak(text) if lang == "vi" else text

    def voice(self, text: str, lang: str, recording: Path | None = None) -> Clip:
        chain = self.config.engines.get(lang, [])
        if not chain:
            raise NoVoice(lang, [f"config/speech.toml chưa khai báo bộ đọc cho '{lang}' trong [engines]"])
        try:
            spoken = self.speech_text(text, lang) if any(e != "recording" for e in chain) else text
        except SpeechError as exc:
            raise NoVoice(lang, [str(exc)]) from None
        return self._voice(chain, spoken, lang, recording)

    def recorded(self, recording: Path, lang: str) -> Clip:
        """A station's own recording (jingle, station ID, outro), levelled and cached like a translator's
        recording whatever the language's engine chain; ``NoVoice`` says why it cannot be used."""
        return self._voice(["recording"], "", lang, recording)

    def _voice(self, chain: list[str], spoken: str, lang: str, recording: Path | None) -> Clip:
        keys = {engine: self._key(engine, lang, spoken, recording) for engine in chain}
        for engine in chain:  # any clip already made wins over a new network call
            key = keys[engine]
            if key and (self.cache_dir / f"{key}.wav").exists():
                return self._clip(key, engine, lang, spoken, recording, cached=True)
        reasons = []
        for engine in chain:
            key = keys[engine]
            try:
                if engine == "recording":
                    if recording is None:
                        raise VoiceError("chưa có bản ghi âm của người dịch (cchc translate --audio)")
                    audio = load_recording(recording, self.config.recordings, self.sample_rate)
                else:
                    audio = self._synthesize(engine, spoken, lang)
                assert key is not None
                self._store(key, audio)
            except VoiceError as exc:
                reasons.append(str(exc))
                log.info("engine %s could not voice %s text: %s", engine, lang, exc)
                continue
            return self._clip(key, engine, lang, spoken, recording, cached=False)
        raise NoVoice(lang, reasons)

    def _key(self, engine: str, lang: str, spoken: str, recording: Path | None) -> str | None:
        if engine == "recording":
            if recording is None or not recording.is_file():
                return None
            voice = hashlib.sha256(recording.read_bytes()).hexdigest()
        else:
            voice = self.engines[engine].voice(lang)
        loud = self.config.loudness
        material = "\x1f".join([spoken, lang, engine, voice, str(self.sample_rate),
                                f"{loud.target_lufs}/{loud.true_peak_dbtp}"])
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def _clip(self, key: str, engine: str, lang: str, spoken: str, recording: Path | None, *, cached: bool) -> Clip:
        path = self.cache_dir / f"{key}.wav"
        with wave.open(str(path)) as handle:
            duration = int(handle.getnframes() * 1000 / handle.getframerate())
        voice = recording.name if engine == "recording" and recording else self.engines[engine].voice(lang)
        measured = path.with_suffix(".json")
        lufs = json.loads(measured.read_text(encoding="utf-8")).get("lufs") if measured.exists() else None
        return Clip(path, engine, voice, duration, spoken, cached, lufs)

    def _synthesize(self, engine: str, spoken: str, lang: str) -> AudioSegment:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir) as work:
            raw = Path(work) / "raw"
            self.engines[engine].synthesize(spoken, lang, raw)
            audio = decode(raw, self.sample_rate, what=f"kết quả của {engine}")
        if len(audio) < MIN_CLIP_MS or audio.max_dBFS == float("-inf"):
            raise VoiceError(f"{engine} trả về âm thanh rỗng hoặc im lặng")
        return audio

    def _store(self, key: str, audio: AudioSegment) -> None:
        """Level the clip to the loudness target (EBU R128) and put it in the cache, with its measured
        loudness beside it (``<key>.json``)."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        loud = self.config.loudness
        with tempfile.TemporaryDirectory(prefix=f".{key}.", dir=self.cache_dir) as work:
            raw, levelled = Path(work) / "raw.wav", Path(work) / "levelled.wav"
            audio.export(raw, format="wav")
            try:
                found = normalize(raw, levelled, target=loud.target_lufs, true_peak=loud.true_peak_dbtp,
                                  sample_rate=self.sample_rate)
            except LoudnessError as exc:
                raise VoiceError(str(exc)) from None
            atomic_write(self.cache_dir / f"{key}.json",
                         json.dumps({"lufs": found.lufs, "true_peak": found.true_peak}) + "\n")
            os.replace(levelled, self.cache_dir / f"{key}.wav")


def voice_post(voices: Voices, post: Post) -> Clip:
    """The voice of one post: Vietnamese reads the title and the text through the engine chain; Thái
    and Mông come from the translator's recording. Raises ``NoVoice``."""
    if post.lang == "vi":
        return voices.voice(f"{post.title}. {post.body}", "vi")
    return voices.voice(post.body, post.lang, Path(post.audio_path) if post.audio_path else None)


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
