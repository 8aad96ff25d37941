"""The title card the project draws for videos and photos (channels/video.py)."""

from __future__ import annotations

import pytest
from PIL import Image

from channels import video

TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"


def test_the_card_draws_tai_viet_and_says_which_font_package_is_missing(tmp_path, monkeypatch):
    out = video.title_card(TAI_VIET, "UBND xã Mường La", "ML-2025-0001.2", tmp_path / "card.png", size=video.SQUARE)
    with Image.open(out) as image:
        assert image.size == (1080, 1080)
        title_area = image.crop((90, 330, 990, 900)).getcolors(1_000_000)
    assert sum(count for count, colour in title_area if colour == video.TEXT) > 2000  # the glyphs are drawn
    monkeypatch.setattr(video, "FONT_DIRS", (tmp_path,))
    with pytest.raises(video.MediaError, match="fonts-noto-core"):
        video.title_card("Tin", "UBND", "ML-1", tmp_path / "other.png")
