"""A system instruction cut into sections, and which of them a prompt must always keep (pure).

When an instruction is too long for the model's context, the session puts only the sections relevant to
each turn in the prompt (see instruction_retrieval.py). Which sections are cut, and which are always
kept whole, is decided here, deterministically:

- **Sections.** A Markdown heading (``#`` to ``######``) starts a section that runs to the next heading.
  Without headings, each blank-line block is a section (with no blank line either, each line). A
  section longer than ``SECTION_CHARS`` (about 175 tokens) is cut into its paragraphs, then its list
  items (``-``, ``*``, ``1.``) or lines, each a part of its own (one of them that is still too long: its
  sentences, joined up to that size; a sentence longer than that alone is cut at the bound); each part
  after the first repeats the heading line, so a part found alone still says what it is about.
- **Always kept** (the instruction's rules and persona): the text before the first heading (with no
  heading at all: the first block or line); every section whose own heading holds one of ``KEEP_WORDS``
  (rules, persona, guidelines, instructions, style, tone, policy, ...); and every section that holds
  the marker ``<!-- openlive:keep -->`` (removed from the prompt's text). A kept section is never cut.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A section part is at most this many characters (~175 tokens of English at ~4 characters a token; as
# grounding's passages: what a prompt can afford per source).
SECTION_CHARS = 700
# The operator's marker for a section that must always be in the prompt.
KEEP_MARKER = "<!-- openlive:keep -->"
# Heading words that mark a section as the instruction's rules or persona (lower case, whole words).
_KEEP_LIST = """rule rules persona personality guideline guidelines instruction instructions style tone policy
    policies behavior behaviour conduct role identity"""
KEEP_WORDS = frozenset(_KEEP_LIST.split())
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d{1,3}[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+")


@dataclass(frozen=True, slots=True)
class Section:
    """One section (or one part of a long one), in the instruction's order."""

    index: int
    text: str  # as the prompt carries it (the heading line included)
    heading: str  # the heading's words, "" for text before the first heading
    kept: bool  # always in the prompt (rules, persona, or marked)


def split_sections(instruction: str, *, max_chars: int = SECTION_CHARS) -> list[Section]:
    """``instruction`` as sections in order; their texts joined by blank lines hold all its words."""
    blocks = _heading_blocks(instruction)
    has_headings = any(heading is not None for heading, _ in blocks)
    sections: list[Section] = []
    for position, (heading, text) in enumerate(blocks):
        marked = KEEP_MARKER in text
        text = text.replace(KEEP_MARKER, "").strip()
        if not text:
            continue
        if heading is None and not has_headings:
            # No headings at all: the blank-line blocks are the sections, the first one the persona.
            blocks_or_lines = _blank_line_blocks(text)
            if len(blocks_or_lines) == 1:  # no blank line: its lines are its sections
                blocks_or_lines = [line.strip() for line in text.splitlines() if line.strip()]
            for n, block in enumerate(blocks_or_lines):
                kept = (position == 0 and n == 0) or marked
                parts = [block] if kept else _cut(block, max_chars)
                sections += [Section(len(sections) + i, p, "", kept) for i, p in enumerate(parts)]
            continue
        kept = marked or heading is None or _reads_as_rules(heading or "")
        if kept:
            sections.append(Section(len(sections), text, heading or "", True))
            continue
        head_line, _, body = text.partition("\n")
        parts = _cut(body.strip(), max_chars - len(head_line) - 1) if len(text) > max_chars else [body]
        for part in parts:
            sections.append(
                Section(len(sections), f"{head_line}\n{part.strip()}".strip(), heading or "", False)
            )
    return sections


def _reads_as_rules(heading: str) -> bool:
    return any(word in KEEP_WORDS for word in _WORD.findall(heading.lower()))


def _heading_blocks(instruction: str) -> list[tuple[str | None, str]]:
    """(heading words or None before the first heading, the text from the heading line on)."""
    blocks: list[tuple[str | None, list[str]]] = [(None, [])]
    fenced = False  # a '#' line inside a code block is not a heading
    for line in instruction.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            blocks.append((match.group(2), [line]))
        else:
            blocks[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in blocks]


def _blank_line_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.split(r"\n\s*\n", text) if b.strip()]


def _cut(text: str, max_chars: int) -> list[str]:
    """``text`` in parts of at most ``max_chars``: whole blocks, list items or sentences joined while
    they fit, each cut finer only when it alone is too long."""
    max_chars = max(max_chars, 80)
    pieces: list[tuple[str, str]] = []
    for block in _blank_line_blocks(text):
        pieces += _fine_pieces(block, max_chars)
    parts: list[str] = []
    current = ""
    for piece, separator in pieces:
        # Paragraphs, list items and lines stay apart (a search then finds just the one it needs, and a
        # turn's prompt holds little else); the sentences of a long one are joined up to the bound.
        if current and (separator != " " or len(current) + len(separator) + len(piece) > max_chars):
            parts.append(current)
            current = ""
        current = f"{current}{separator}{piece}" if current else piece
    if current:
        parts.append(current)
    return parts


def _fine_pieces(block: str, max_chars: int) -> list[tuple[str, str]]:
    """(piece, separator before it): the block whole, else its list items (or lines), else sentences,
    else slices of ``max_chars``."""
    if len(block) <= max_chars:
        return [(block, "\n\n")]
    lines = block.split("\n")
    items: list[str] = []
    for line in lines:
        if items and not _LIST_ITEM.match(line) and any(_LIST_ITEM.match(x) for x in lines):
            items[-1] += "\n" + line  # a list item's continuation line
        else:
            items.append(line)
    out: list[tuple[str, str]] = []
    for n, item in enumerate(items):
        separator = "\n\n" if n == 0 else "\n"
        if len(item) <= max_chars:
            out.append((item, separator))
            continue
        for m, sentence in enumerate(_SENTENCE_END.split(item)):
            for k in range(0, len(sentence), max_chars):
                out.append((sentence[k : k + max_chars], separator if m == k == 0 else " "))
    return out
