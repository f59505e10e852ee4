"""The local knowledge index: the starter corpus, operator documents, relevance, and the CLI."""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
from pathlib import Path

from openlive.backends.search_local import PASSAGE_CHARS, LocalIndex, in_memory_indexes, split_passages


def test_the_starter_corpus_answers_capitals_and_nothing_irrelevant(tmp_path: Path) -> None:
    index = LocalIndex(tmp_path / "index.db")
    assert len(index.documents(source="countryinfo")) > 240
    best = index.search_now("What is the capital of Australia?")[0]
    assert best.title == "Australia" and "Canberra" in best.text and best.uri == "countryinfo:Australia"
    assert index.search_now("Tell me a joke, please.") == []
    assert LocalIndex(tmp_path / "index.db").documents() == index.documents()  # built once


def test_operator_documents_are_found_listed_and_removed(tmp_path: Path) -> None:
    code = str(random.randrange(10_000, 99_999))
    doc = tmp_path / "festival.md"
    doc.write_text(
        f"# Zorblax Festival\n\nThe Zorblax festival opens at dawn.\n\nIts secret code is {code}.\n"
    )
    page = tmp_path / "page.html"
    page.write_text(
        "<html><title>Opening hours</title><script>x=1</script><p>The museum opens at 9.</p></html>"
    )
    index = LocalIndex(tmp_path / "index.db", starter=False)
    indexed = index.add_file(doc)
    assert indexed.title == "Zorblax Festival" and indexed.uri == doc.resolve().as_uri()
    found = asyncio.run(index.search("What is the secret code of the Zorblax festival?"))
    assert found and code in found[0].text and found[0].uri == indexed.uri and found[0].kind == "document"
    html_doc = index.add_file(page)
    hit = index.search_now("When does the museum open?")[0]
    assert hit.title == "Opening hours" and "x=1" not in hit.text
    assert {d.uri for d in index.documents()} == {indexed.uri, html_doc.uri}
    assert index.remove(indexed.uri) and not index.remove(indexed.uri)
    assert index.search_now("Zorblax secret code") == []


def test_passages_stay_short_and_keep_every_sentence() -> None:
    text = "\n\n".join(" ".join(f"Sentence {p}.{s} is here." for s in range(20)) for p in range(3))
    passages = split_passages(text)
    assert all(len(p) <= PASSAGE_CHARS for p in passages)
    assert " ".join(passages).split() == text.split()


def test_the_index_command_builds_adds_lists_and_removes(tmp_path: Path) -> None:
    doc = tmp_path / "notes.txt"
    doc.write_text("The staff canteen serves ramen on Thursdays.")
    index = tmp_path / "cli-index.db"

    def cli(*args: str) -> str:
        command = [sys.executable, "-m", "openlive.cli.main", "index", "--index", str(index), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "documents" in cli("build")
    assert "indexed file://" in cli("add", str(tmp_path))
    listing = cli("list")
    assert "operator" in listing and doc.resolve().as_uri() in listing and "countryinfo:France" in listing
    cli("remove", doc.resolve().as_uri())
    assert doc.resolve().as_uri() not in cli("list")


def test_meaning_finds_a_passage_that_words_alone_miss(tmp_path: Path) -> None:
    doc = tmp_path / "festival.md"
    doc.write_text("# Bluebell Festival\n\nThe entry code of the Bluebell festival is 2629.\n")
    hybrid = LocalIndex(tmp_path / "hybrid.db", starter=False)
    hybrid.add_file(doc)
    hybrid.add_documents(
        [("note:cafe", "Cafe", "The cafe sells coffee and cake until six.")], source="operator"
    )
    # Reworded: "coffeehouse" is not in the passage; its meaning is.
    assert [p.uri for p in hybrid.search_now("Where is a coffeehouse?")] == ["note:cafe"]
    lexical = LocalIndex(tmp_path / "lexical.db", starter=False, embedder=False)
    lexical.add_documents(
        [("note:cafe", "Cafe", "The cafe sells coffee and cake until six.")], source="operator"
    )
    assert lexical.search_now("Where is a coffeehouse?") == []
    assert hybrid.search_now("Tell me a joke, please.") == []


def test_in_memory_indexes_are_empty_separate_hybrid_and_leave_no_file(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.chdir(tmp_path)
    make = in_memory_indexes()
    first, second = make(), make()
    assert first.documents() == [] and first._embedder is second._embedder is not None  # loaded once
    first.add_documents([("section:1", "Cafe", "The cafe sells coffee and cake until six.")], source="s")
    assert [p.uri for p in first.search_now("Where is a coffeehouse?")] == ["section:1"]  # by meaning
    assert second.search_now("Where is a coffeehouse?") == []
    assert list(tmp_path.iterdir()) == []
