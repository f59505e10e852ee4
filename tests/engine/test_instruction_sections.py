"""Cutting a system instruction into sections, and which ones are always kept (pure)."""

from __future__ import annotations

from openlive.engine.instruction_sections import KEEP_MARKER, SECTION_CHARS, split_sections

GUIDE = f"""You are Ava, the voice assistant of DevConf 2026. Be warm and brief.

# Schedule
The keynote starts at 9:00 in Hall A.

## Workshops
The robotics workshop is in room B12.

## Code of conduct
Be kind to everyone.

## Speaking style
Never read URLs aloud.

## Venue
{KEEP_MARKER}
The venue is at Main Street 5.

## Food
Lunch is served at 12:30.
"""


def test_headings_start_sections_and_the_preamble_rules_and_marked_ones_are_kept() -> None:
    sections = split_sections(GUIDE)
    assert [(s.heading, s.kept) for s in sections] == [
        ("", True),  # the persona, before the first heading
        ("Schedule", False),
        ("Workshops", False),
        ("Code of conduct", True),  # 'conduct'
        ("Speaking style", True),  # 'style'
        ("Venue", True),  # the operator's marker
        ("Food", False),
    ]
    assert sections[2].text == "## Workshops\nThe robotics workshop is in room B12."
    assert KEEP_MARKER not in sections[5].text and "Main Street 5" in sections[5].text
    assert [s.index for s in sections] == list(range(len(sections)))


def test_a_heading_word_inside_a_longer_word_does_not_keep_a_section() -> None:
    sections = split_sections("Persona here.\n\n# Rulers of Europe\nKings.\n\n# Stylesheets\nCSS.")
    assert [s.kept for s in sections] == [True, False, False]


def test_without_headings_blocks_are_sections_and_the_first_is_kept() -> None:
    text = "You are a helpful guide.\n\nThe museum opens at 10.\n\n\nTickets cost 12 euros."
    sections = split_sections(text)
    assert [(s.text, s.kept) for s in sections] == [
        ("You are a helpful guide.", True),
        ("The museum opens at 10.", False),
        ("Tickets cost 12 euros.", False),
    ]


def test_without_headings_or_blank_lines_each_line_is_a_section() -> None:
    sections = split_sections("You are a guide.\nThe museum opens at 10.\nTickets cost 12 euros.\n")
    assert [(s.text, s.kept) for s in sections] == [
        ("You are a guide.", True),
        ("The museum opens at 10.", False),
        ("Tickets cost 12 euros.", False),
    ]


def test_a_long_section_is_cut_at_list_items_and_each_part_repeats_its_heading() -> None:
    items = "\n".join(
        f"- Talk {i}: a talk about subject {i} in room R{i}, with questions after." for i in range(60)
    )
    sections = split_sections(f"Persona.\n\n## Talks\n{items}")
    parts = sections[1:]
    assert len(parts) > 3
    assert all(len(p.text) <= SECTION_CHARS for p in parts)
    assert all(p.text.startswith("## Talks\n- Talk ") and p.heading == "Talks" for p in parts)
    # Every item is in exactly one part, whole and in order.
    found = [line for p in parts for line in p.text.splitlines()[1:]]
    assert found == items.splitlines()


def test_a_long_paragraph_without_lists_is_cut_at_sentence_ends() -> None:
    paragraph = " ".join(f"Sentence number {i} says something about the venue." for i in range(80))
    parts = split_sections(f"Persona.\n\n# Venue\n{paragraph}")[1:]
    assert len(parts) > 2 and all(len(p.text) <= SECTION_CHARS for p in parts)
    assert all(p.text.splitlines()[1].startswith("Sentence number") for p in parts)
    assert all(p.text.endswith("venue.") for p in parts)


def test_a_kept_section_is_never_cut_and_a_hash_line_in_code_is_not_a_heading() -> None:
    rules = "\n".join(f"- Rule {i}: never do thing {i} under any circumstances at all." for i in range(40))
    text = f"Persona.\n\n## Rules\n{rules}\n\n## Example\n```\n# not a heading\n```"
    sections = split_sections(text)
    assert [(s.heading, s.kept) for s in sections] == [("", True), ("Rules", True), ("Example", False)]
    assert len(sections[1].text) > SECTION_CHARS
    assert "# not a heading" in sections[2].text
