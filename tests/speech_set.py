"""The speech test set (``tests/data/speech_set.txt``): real broadcast sentences and their readings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SET = Path(__file__).parent / "data" / "speech_set.txt"


@dataclass(frozen=True)
class Sentence:
    line: int
    section: str
    text: str
    expected: str


def load(path: Path = SET) -> list[Sentence]:
    """Entries are a text line followed by ``= reading``; ``## section`` names a group."""
    sentences: list[Sentence] = []
    section, text, at = "", None, 0
    for number, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if row.startswith("## "):
            section = row[3:].strip()
        elif not row.strip() or row.startswith("#"):
            if text is not None:
                raise ValueError(f"{path.name}:{at}: a sentence without its '= reading' line")
        elif row.startswith("= "):
            if text is None:
                raise ValueError(f"{path.name}:{number}: a reading without its sentence")
            sentences.append(Sentence(at, section, text, row[2:]))
            text = None
        else:
            if text is not None:
                raise ValueError(f"{path.name}:{at}: a sentence without its '= reading' line")
            text, at = row, number
    return sentences
