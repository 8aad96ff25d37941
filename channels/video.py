"""The picture and the video the project makes from an announcement, for platforms that want one.

``title_card`` draws a card with Pillow: the unit, the words "Thông tin cải cách hành chính", the
title wrapped to fit, and the reference code. It is vertical (1080×1920) for TikTok and square
(1080×1080) for a Facebook photo. ``video`` puts a card and the announcement's voice together as an
MP4 that TikTok accepts (H.264, 30 fps, AAC, ``+faststart``), with ffmpeg.

Fonts come from Debian's ``fonts-noto-core`` (Noto Sans, and Noto Sans Tai Viet for Thái written in
the Tai Viet script); the set-up script installs it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = (Path("/usr/share/fonts/truetype/noto"), Path("/usr/share/fonts/opentype/noto"))
FONTS = {"bold": "NotoSans-Bold.ttf", "regular": "NotoSans-Regular.ttf", "taiviet": "NotoSansTaiViet-Regular.ttf"}
BACKGROUND, BAND, TEXT, MUTED = (12, 59, 122), (200, 16, 46), (255, 255, 255), (200, 214, 235)
VERTICAL, SQUARE = (1080, 1920), (1080, 1080)
MARGIN = 90
# EBU R128 at -16 LUFS with peaks under -1.5 dBTP: the level phones and social platforms expect; a
# TTS clip comes out peaking at 0 dBFS otherwise.
LOUDNESS = "loudnorm=I=-16:TP=-1.5:LRA=11"


class MediaError(Exception):
    """A card or a video could not be made; the message says what to install or change."""


def font_path(name: str) -> Path:
    for folder in FONT_DIRS:
        path = folder / FONTS[name]
        if path.is_file():
            return path
    raise MediaError(f"thiếu phông chữ {FONTS[name]}: hãy cài gói fonts-noto-core (bash scripts/setup.sh)")


def _tai_viet(text: str) -> bool:
    return any("\uaa80" <= ch <= "\uaadf" for ch in text)


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and draw.textlength(trial, font=font) > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def title_card(title: str, unit: str, ref_code: str, out: Path, *, size: tuple[int, int] = VERTICAL) -> Path:
    """Draw the card as PNG into ``out``."""
    width, height = size
    image = Image.new("RGB", size, BACKGROUND)
    draw = ImageDraw.Draw(image)
    small = ImageFont.truetype(str(font_path("bold")), 44)
    draw.rectangle((0, 0, width, 170), fill=BAND)
    draw.text((MARGIN, 85), unit.upper(), font=small, fill=TEXT, anchor="lm")
    draw.text((MARGIN, 250), "Thông tin cải cách hành chính", font=small, fill=MUTED, anchor="lm")
    face = font_path("taiviet" if _tai_viet(title) else "bold")
    room = height - 250 - 300
    for points in (96, 84, 72, 60, 52, 44, 38):  # the largest size at which the whole title fits
        font = ImageFont.truetype(str(face), points)
        lines = _wrap(draw, title, font, width - 2 * MARGIN)
        step = int(points * 1.35)
        if len(lines) * step <= room:
            break
    top = 250 + 80 + max(0, (room - len(lines) * step) // 2)
    for n, line in enumerate(lines[: room // step]):
        draw.text((MARGIN, top + n * step), line, font=font, fill=TEXT)
    regular = ImageFont.truetype(str(font_path("regular")), 36)
    draw.line((MARGIN, height - 170, width - MARGIN, height - 170), fill=MUTED, width=3)
    draw.text((MARGIN, height - 110), f"Mã tin: {ref_code}", font=regular, fill=MUTED, anchor="lm")
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out, format="PNG", optimize=True)
    return out


def video(card: Path, audio: Path, out: Path, *, fps: int = 30) -> Path:
    """The card for as long as the audio lasts, as an MP4 (H.264 + AAC, loudness levelled), written atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".mp4", dir=out.parent)
    os.close(fd)
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
               "-loop", "1", "-framerate", str(fps), "-i", str(card), "-i", str(audio),
               "-c:v", "libx264", "-tune", "stillimage", "-preset", "veryfast", "-pix_fmt", "yuv420p",
               "-r", str(fps), "-af", LOUDNESS, "-c:a", "aac", "-b:a", "128k", "-ar", "44100", "-shortest",
               "-movflags", "+faststart", tmp]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if result.returncode != 0:
            raise MediaError(f"ffmpeg không tạo được video: {result.stderr.strip()[-300:]}")
        os.replace(tmp, out)
    except FileNotFoundError:
        raise MediaError("không có ffmpeg: hãy cài gói ffmpeg (bash scripts/setup.sh)") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out
