"""Language codes: BCP-47 codes from ``speechConfig.languageCode`` and a guess from written text."""

from __future__ import annotations

import re

from openlive.protocol.voices import base_language as base_language

# speechConfig.languageCode values of the BidiGenerateContent proto (reference §6).
GEMINI_LANGUAGE_CODES = frozenset(
    {
        "de-DE",
        "en-AU",
        "en-GB",
        "en-IN",
        "en-US",
        "es-US",
        "fr-FR",
        "hi-IN",
        "pt-BR",
        "ar-XA",
        "es-ES",
        "fr-CA",
        "id-ID",
        "it-IT",
        "ja-JP",
        "tr-TR",
        "vi-VN",
        "bn-IN",
        "gu-IN",
        "kn-IN",
        "ml-IN",
        "mr-IN",
        "ta-IN",
        "te-IN",
        "nl-NL",
        "ko-KR",
        "cmn-CN",
        "pl-PL",
        "ru-RU",
        "th-TH",
    }
)

_KANA = re.compile("[\u3040-\u30ff]")
_HAN = re.compile("[\u4e00-\u9fff]")
# Characters common in Chinese and rare in Japanese writing (which would use kana for them): Han text
# with one of them is Chinese; without, Japanese, as before Chinese had a voice.
_CHINESE_ONLY = re.compile("[的了吗呢们这那么吧啊很没说么哪谁]")

# Scripts that one language of the profile's owns (ISO 639-1). A script several languages share
# (Devanagari, Bengali, Cyrillic, Arabic) says less: see ``_shared_script``.
_SCRIPT_LANGUAGE: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile("[\uac00-\ud7af\u1100-\u11ff]"), "ko"),
    (re.compile("[\u0e00-\u0e7f]"), "th"),
    (re.compile("[\u0370-\u03ff]"), "el"),
    (re.compile("[\u0590-\u05ff]"), "he"),
    (re.compile("[\u0530-\u058f]"), "hy"),
    (re.compile("[\u10a0-\u10ff]"), "ka"),
    (re.compile("[\u1200-\u137f]"), "am"),
    (re.compile("[\u1000-\u109f]"), "my"),
    (re.compile("[\u0d80-\u0dff]"), "si"),
    (re.compile("[\u0b80-\u0bff]"), "ta"),
    (re.compile("[\u0c00-\u0c7f]"), "te"),
    (re.compile("[\u0c80-\u0cff]"), "kn"),
    (re.compile("[\u0d00-\u0d7f]"), "ml"),
    (re.compile("[\u0a80-\u0aff]"), "gu"),
    (re.compile("[\u0a00-\u0a7f]"), "pa"),
)
_CYRILLIC = re.compile("[\u0400-\u04ff]")
_ARABIC = re.compile("[\u0600-\u06ff]")

# Frequent words that mark a language among those written in Latin letters. Only the most common
# languages have a list; a text that matches none is not guessed (see ``guess_language``).
_LATIN_MARKERS: dict[str, frozenset[str]] = {
    lang: frozenset(words.split())
    for lang, words in {
        "en": "the is are was what you and of to it how please thank thanks hello does can my your this "
        "that with for where why who when i do have tell",
        "es": "el la los las hay es qué que cuál cómo por favor del y una hola gracias está son para dónde "
        "cuántos cuántas tiene muy pero puedes dime",
        "de": "der die das ist und was wie nicht ich du mir bitte von zu ein eine hat haben sind mit auf "
        "für guten tag hallo danke kannst können welche wo warum",
        "fr": "le la les est et quelle quel comment pourquoi bonjour merci je vous des du pas avec pour dans "
        "où c'est qu'est sont ce",
        "it": "il la è che di gli della come perché ciao grazie sono per non qual quale dove",
        "pt": "o os é não você obrigado obrigada olá onde um são do da dos das em",
        "nl": "het een van wat hoe niet ik je jij bedankt dank waar waarom zijn voor",
        "sv": "och är det att jag hur vad inte hej tack på",
        "pl": "jest nie się co jak że czy dzień dobry dziękuję proszę",
        "tr": "bir ve bu ne nasıl merhaba teşekkür için var yok nedir",
        "id": "apa yang dan ini itu tidak saya anda bagaimana terima kasih halo selamat berapa adalah",
    }.items()
}
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_VIETNAMESE = re.compile("[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]", re.IGNORECASE)


def is_known_language_code(code: str) -> bool:
    return code in GEMINI_LANGUAGE_CODES or re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,4})?", code) is not None


def guess_language(text: str) -> str | None:
    """The language of a text from its script, and for Latin letters from its most frequent words; None
    where that cannot tell (the session then keeps the language identified from speech, else English).

    It runs on every user turn, also on spoken ones, before the language identified from the speech, so
    it must not guess where it cannot know: Latin text without marker words, or a script several
    languages share, gives None rather than a wrong language that would override speech detection.
    """
    if _KANA.search(text):
        return "ja"
    if _HAN.search(text):
        return "zh" if _CHINESE_ONLY.search(text) else "ja"
    for pattern, language in _SCRIPT_LANGUAGE:
        if pattern.search(text):
            return language
    shared = _shared_script(text)
    if shared is not None:
        return shared or None
    if _VIETNAMESE.search(text):
        return "vi"
    return _latin_words(text)


def _shared_script(text: str) -> str | None:
    """For a script several languages share: its main language where no letter of another shows, ""
    where one does (so: no guess); None when the text is not in such a script."""
    if _CYRILLIC.search(text):
        # Ukrainian, Belarusian, Serbian/Macedonian and Kazakh letters that Russian does not use.
        return "" if re.search("[іїєґўјљњђћџѓќѕәөүңқғһ]", text, re.IGNORECASE) else "ru"
    if _ARABIC.search(text):
        # Persian/Urdu/Pashto/Sindhi letters that Arabic does not use.
        return "" if re.search("[پچژگکیٹڈڑںےۀځڅډړږښګڼ]", text) else "ar"
    if re.search("[\u0900-\u097f\u0980-\u09ff]", text):  # Devanagari, Bengali: hi/mr/ne, bn/as
        return ""
    return None


def _latin_words(text: str) -> str | None:
    words = [w.lower() for w in _LATIN_WORD.findall(text)]
    if not words:
        return None
    hits = {lang: sum(w in markers for w in words) for lang, markers in _LATIN_MARKERS.items()}
    best = max(hits.values())
    leaders = [lang for lang, n in hits.items() if n == best]
    return leaders[0] if best > 0 and len(leaders) == 1 else None
