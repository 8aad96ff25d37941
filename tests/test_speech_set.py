"""Every sentence of the speech test set is read the way an announcer reads it (bench/speech_set.py
prints the pass rate and the differences)."""

import pytest

from channels.loudspeaker.speech import SpeechText
from scheduler.config import load_config
from scheduler.settings import PROJECT_ROOT
from tests import speech_set

SENTENCES = speech_set.load()


@pytest.fixture(scope="module")
def speech():
    return SpeechText.from_config(load_config(PROJECT_ROOT / "config").speech)


def test_the_set_is_large_and_covers_every_kind_of_broadcast():
    assert len(SENTENCES) >= 150
    sections = {sentence.section for sentence in SENTENCES}
    assert {"Thời tiết, thiên tai", "Y tế", "Văn bản, pháp luật", "Thông báo hành chính"} <= sections


@pytest.mark.parametrize("sentence", SENTENCES, ids=lambda s: f"line{s.line}")
def test_sentence_is_read_as_an_announcer_would(speech, sentence):
    assert speech.speak(sentence.text) == sentence.expected
