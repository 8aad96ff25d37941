"""The speech test set's pass rate: how many real broadcast sentences the voice reads as expected.

    .venv/bin/python bench/speech_set.py [--show-failures]

Reads tests/data/speech_set.txt with the lexicon in config/speech.toml and prints the pass rate per
section and overall; --show-failures prints each miss with the expected and the actual reading.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from channels.loudspeaker.speech import SpeechError, SpeechText  # noqa: E402
from scheduler.config import load_config  # noqa: E402
from scheduler.settings import PROJECT_ROOT  # noqa: E402
from tests import speech_set  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-failures", action="store_true")
    args = parser.parse_args()
    reader = SpeechText.from_config(load_config(PROJECT_ROOT / "config").speech)
    total, passed = Counter(), Counter()
    for sentence in speech_set.load():
        try:
            spoken = reader.speak(sentence.text)
        except SpeechError as exc:
            spoken = f"<refused: {exc}>"
        total[sentence.section] += 1
        if spoken == sentence.expected:
            passed[sentence.section] += 1
        elif args.show_failures:
            print(f"line {sentence.line}: {sentence.text}\n  expected: {sentence.expected}\n  actual:   {spoken}\n")
    for section in total:
        print(f"{section:<32} {passed[section]:>4}/{total[section]:<4}")
    overall = sum(passed.values()) / sum(total.values())
    print(f"{'all':<32} {sum(passed.values()):>4}/{sum(total.values()):<4} pass rate {overall:.1%}")


if __name__ == "__main__":
    main()
