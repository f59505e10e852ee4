"""guess_language: the language of a user's text, where its script or its words can tell, else None
(then the language identified from the speech decides)."""

from __future__ import annotations

import pytest

from openlive.engine.language import guess_language


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("What is the capital of France?", "en"),
        ("Hello!", "en"),
        ("¿Cuál es la capital de Francia?", "es"),
        ("Hay 7 días en la semana.", "es"),
        ("Hola, ¿me puedes decir cuál es la capital de Francia, por favor?", "es"),
        ("Guten Tag, kannst du mir bitte sagen, was die Hauptstadt von Frankreich ist?", "de"),
        ("Quelle est la capitale de la France ?", "fr"),
        ("Qual è la capitale della Spagna?", "it"),
        ("Dzień dobry, jak się masz?", "pl"),
        ("Merhaba, nasılsın?", "tr"),
        ("Xin chào, bạn khỏe không?", "vi"),
        ("日本の首都はどこですか？", "ja"),
        ("東京", "ja"),  # Han alone: Japanese, as before Chinese had a voice
        ("你好吗", "zh"),
        ("안녕하세요", "ko"),
        ("Привет, как дела?", "ru"),
        ("مرحبا كيف حالك", "ar"),
        ("สวัสดีครับ", "th"),
        ("Καλημέρα", "el"),
    ],
)
def test_script_or_words_tell_the_language(text: str, language: str) -> None:
    assert guess_language(text) == language


@pytest.mark.parametrize(
    "text",
    [
        "OK",  # Latin letters, no word that marks a language
        "Habari yako",  # Swahili: no marker list, so speech identification must decide
        "Привіт, як справи?",  # Cyrillic with a Ukrainian letter: not Russian
        "سلام، حال شما چطور است؟",  # Arabic script with Persian letters: not Arabic
        "नमस्ते",  # Devanagari: Hindi, Marathi or Nepali
        "12345",
        "",
    ],
)
def test_no_guess_where_the_text_cannot_tell(text: str) -> None:
    # A wrong guess would override the language identified from speech (the session asks this first).
    assert guess_language(text) is None
