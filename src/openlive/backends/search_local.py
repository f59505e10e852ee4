"""The embedded SearchProvider: a local knowledge index, hybrid — SQLite FTS5 (BM25) and sentence
embeddings (all-MiniLM-L6-v2, see embeddings.py) — kept in the cache directory.

It starts with a starter corpus built from packaged reference data — every country's capital, currency
and official languages (``countryinfo`` 1.0.1, MIT; its figures date from about 2015, see docs/models.md)
— and operators add their own documents (``openlive index add PATH…``: Markdown, text, HTML), which are
cut into passages of a few sentences. A search keeps the passages that hold at least half of the
query's content words, or whose meaning is close to the query's (cosine similarity of the embeddings at
least ``MIN_SIMILARITY``: a misheard or reworded name still finds its passage), ranked by reciprocal rank
fusion of the two lists; a question the index knows nothing about gets no passages (and the model is not
told to use irrelevant ones). Without the embedding packages, the index is BM25 only.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from openlive.backends.embeddings import MiniLmEmbedder
from openlive.stages.search import Passage

log = logging.getLogger(__name__)

STARTER_SOURCE = "countryinfo"
# A passage is at most about this long (a few sentences: what the prompt can afford per source).
PASSAGE_CHARS = 700
# The share of the query's content words a passage must hold to count as relevant.
MIN_COVERAGE = 0.5
# The cosine similarity of query and passage embeddings that counts as relevant on its own. Measured on
# all-MiniLM-L6-v2: a question and the passage that answers it under a misheard name, 0.56; unrelated
# sentences, -0.02 to 0.17.
MIN_SIMILARITY = 0.45
# Reciprocal rank fusion's constant (the usual 60: ranks far down either list barely count).
_RRF_K = 60
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Words that carry no topic: kept out of queries and of the relevance share.
_STOPWORDS_LIST = """
    a an the of to in on at by for from with about as into is are was were be been being am do does
    did have has had will would can could shall should may might must what which who whom whose when
    where why how that this these those it its i you he she we they me my your our their there here
    and or but not no so if than then tell please know say said me us him her them any some much
    many"""
_STOPWORDS = frozenset(_STOPWORDS_LIST.split())
_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, uri TEXT UNIQUE NOT NULL, title TEXT NOT NULL, source TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(
    text, title UNINDEXED, uri UNINDEXED, document_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS vectors (passage INTEGER PRIMARY KEY, v BLOB NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class IndexedDocument:
    uri: str
    title: str
    source: str
    passages: int


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, lower-cased, in order, without repeats."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)


class LocalIndex:
    """``SearchProvider`` over an SQLite FTS5 file. Thread-safe; searches run off the event loop."""

    def __init__(
        self, path: Path, *, starter: bool = True, embedder: MiniLmEmbedder | bool | None = True
    ) -> None:
        """``embedder``: True loads the packaged model (BM25 only, with a log line, if it is missing)."""
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        self._embedder = _load_embedder() if embedder is True else (embedder or None)
        self._matrix: tuple[int, np.ndarray, np.ndarray] | None = None  # (count, rowids, vectors)
        if starter and not self._has_source(STARTER_SOURCE):
            self.add_documents(starter_documents(), source=STARTER_SOURCE)
        self._embed_missing()

    # -- SearchProvider ------------------------------------------------------------------------------

    async def search(self, query: str, *, limit: int = 3) -> list[Passage]:
        return await asyncio.to_thread(self.search_now, query, limit=limit)

    async def aclose(self) -> None:
        with self._lock:
            self._db.close()

    # -- the index -------------------------------------------------------------------------------------

    def search_now(self, query: str, *, limit: int = 3) -> list[Passage]:
        words = content_words(query)
        if not words:
            return []
        match = " OR ".join(f'"{w}"' for w in words)
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, text, title FROM passages WHERE passages MATCH ? "
                "ORDER BY bm25(passages) LIMIT 50",
                (match,),
            ).fetchall()
        # Lexical: BM25's order, relevant when the passage holds enough of the query's words.
        lexical: dict[int, float] = {}
        for rowid, text, title in rows:
            held = set(content_words(f"{title} {text}"))
            coverage = sum(w in held for w in words) / len(words)
            if coverage >= MIN_COVERAGE:
                lexical[rowid] = coverage
        # Coverage first (a passage about the question's subject), then BM25's order among equals.
        lexical_order = sorted(lexical, key=lambda r: -lexical[r])
        semantic = self._similar(query)
        semantic_order = sorted(semantic, key=lambda r: -semantic[r])
        fused: dict[int, float] = {}
        for order in (lexical_order, semantic_order):
            for rank, rowid in enumerate(order):
                fused[rowid] = fused.get(rowid, 0.0) + 1.0 / (_RRF_K + rank)
        best = sorted(fused, key=lambda r: -fused[r])[:limit]
        return [
            self._passage(rowid, max(lexical.get(rowid, 0.0), semantic.get(rowid, 0.0))) for rowid in best
        ]

    def _passage(self, rowid: int, score: float) -> Passage:
        with self._lock:
            text, title, uri = self._db.execute(
                "SELECT text, title, uri FROM passages WHERE rowid = ?", (rowid,)
            ).fetchone()
        return Passage(text=text, title=title, uri=uri, kind="document", score=score)

    def _similar(self, query: str) -> dict[int, float]:
        """Passages (rowid → cosine) whose embedding is at least MIN_SIMILARITY from the query's."""
        if self._embedder is None:
            return {}
        rowids, vectors = self._vectors()
        if not len(rowids):
            return {}
        similarity = vectors @ self._embedder.embed([query])[0]
        keep = np.flatnonzero(similarity >= MIN_SIMILARITY)
        return {int(rowids[i]): float(similarity[i]) for i in keep}

    def _vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """All passage vectors as one matrix, reloaded when the index changed."""
        with self._lock:
            count = self._db.execute("SELECT count(*) FROM vectors").fetchone()[0]
            if self._matrix is None or self._matrix[0] != count:
                rows = self._db.execute("SELECT passage, v FROM vectors ORDER BY passage").fetchall()
                rowids = np.array([r[0] for r in rows], dtype=np.int64)
                raw = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
                vectors = raw.reshape(len(rows), -1) if rows else raw.reshape(0, 0)  # (0, -1) is refused
                self._matrix = (count, rowids, vectors)
            return self._matrix[1], self._matrix[2]

    def _embed_missing(self) -> None:
        """Vectors for passages that have none (added before the embedding packages were installed)."""
        if self._embedder is None:
            return
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, title, text FROM passages WHERE rowid NOT IN (SELECT passage FROM vectors)"
            ).fetchall()
        if not rows:
            return
        vectors = self._embedder.embed([f"{title}: {text}" for _, title, text in rows])
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors (passage, v) VALUES (?, ?)",
                [(row[0], vector.tobytes()) for row, vector in zip(rows, vectors, strict=True)],
            )
            self._db.execute("COMMIT")

    def add_documents(self, documents: Iterable[tuple[str, str, str]], *, source: str) -> int:
        """Add (uri, title, text) documents, replacing any with the same uri; returns how many."""
        count = 0
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for uri, title, text in documents:
                    self._remove_locked(uri)
                    cursor = self._db.execute(
                        "INSERT INTO documents (uri, title, source) VALUES (?, ?, ?)", (uri, title, source)
                    )
                    for passage in split_passages(text):
                        self._db.execute(
                            "INSERT INTO passages (text, title, uri, document_id) VALUES (?, ?, ?, ?)",
                            (passage, title, uri, cursor.lastrowid),
                        )
                    count += 1
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._embed_missing()
        return count

    def add_file(self, path: Path) -> IndexedDocument:
        """Index a Markdown, text or HTML file under its absolute ``file://`` uri."""
        raw = path.read_text(encoding="utf-8", errors="replace")
        text, title = (
            (html_to_text(raw), _html_title(raw))
            if path.suffix.lower() in (".html", ".htm")
            else (
                raw,
                _markdown_title(raw),
            )
        )
        uri = path.resolve().as_uri()
        self.add_documents([(uri, title or path.stem, text)], source="operator")
        return next(d for d in self.documents() if d.uri == uri)

    def remove(self, uri: str) -> bool:
        with self._lock:
            return self._remove_locked(uri)

    def documents(self, source: str | None = None) -> list[IndexedDocument]:
        with self._lock:
            rows = self._db.execute(
                "SELECT d.uri, d.title, d.source, count(p.rowid) FROM documents d "
                "LEFT JOIN passages p ON p.document_id = d.id "
                + ("WHERE d.source = ? " if source else "")
                + "GROUP BY d.id ORDER BY d.source, d.title",
                (source,) if source else (),
            ).fetchall()
        return [IndexedDocument(uri, title, src, n) for uri, title, src, n in rows]

    def _remove_locked(self, uri: str) -> bool:
        row = self._db.execute("SELECT id FROM documents WHERE uri = ?", (uri,)).fetchone()
        if row is None:
            return False
        self._db.execute(
            "DELETE FROM vectors WHERE passage IN (SELECT rowid FROM passages WHERE document_id = ?)",
            (row[0],),
        )
        self._db.execute("DELETE FROM passages WHERE document_id = ?", (row[0],))
        self._db.execute("DELETE FROM documents WHERE id = ?", (row[0],))
        return True

    def _has_source(self, source: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM documents WHERE source = ? LIMIT 1", (source,)).fetchone()
                is not None
            )


def in_memory_indexes() -> Callable[[], LocalIndex]:
    """Makes empty in-memory indexes (a session's instruction sections, ``Profile.passage_index``),
    hybrid as the search index is. Their embedder is loaded on first use, once, and is not the search
    index's: filling a session's index then never holds up a grounding search."""
    lock = threading.Lock()
    loaded: list[MiniLmEmbedder | None] = []

    def make() -> LocalIndex:
        with lock:
            if not loaded:
                loaded.append(_load_embedder())
        return LocalIndex(Path(":memory:"), starter=False, embedder=loaded[0] or False)

    return make


def _load_embedder() -> MiniLmEmbedder | None:
    try:
        return MiniLmEmbedder()
    except (FileNotFoundError, ImportError) as exc:
        log.info("search index without embeddings (BM25 only): %s", exc)
        return None


def split_passages(text: str) -> list[str]:
    """Paragraphs, joined or cut at sentence ends so that each passage holds at most ~PASSAGE_CHARS."""
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", text)]
    passages: list[str] = []
    current = ""
    for paragraph in filter(None, paragraphs):
        for sentence in re.split(r"(?<=[.!?。])\s+", paragraph):
            if current and len(current) + 1 + len(sentence) > PASSAGE_CHARS:
                passages.append(current)
                current = ""
            current = f"{current} {sentence}".strip()
        if len(current) > PASSAGE_CHARS // 2:
            passages.append(current)
            current = ""
    if current:
        passages.append(current)
    return passages


def html_to_text(raw: str) -> str:
    raw = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", raw)
    raw = re.sub(r"(?i)<(br|/p|/div|/h\d|/li|/tr)\b[^>]*>", "\n\n", raw)
    return html.unescape(re.sub(r"<[^>]+>", " ", raw))


def _html_title(raw: str) -> str:
    match = re.search(r"(?is)<title[^>]*>(.*?)</title>", raw)
    return html.unescape(match.group(1)).strip() if match else ""


def _markdown_title(raw: str) -> str:
    match = re.search(r"(?m)^#\s+(.+)$", raw)
    return match.group(1).strip() if match else ""


def starter_documents() -> list[tuple[str, str, str]]:
    """One short document per country from ``countryinfo``: capital, currencies, languages, region."""
    from countryinfo import all_countries  # imported here: only the first start builds the corpus

    documents: list[tuple[str, str, str]] = []
    for country in all_countries():
        info = country.info()
        name = info.get("name")
        if not name:
            continue
        facts = [f"{name} is a country in {info.get('subregion') or info.get('region') or 'the world'}."]
        if capital := info.get("capital"):
            facts.append(f"The capital of {name} is {capital}.")
        if currencies := info.get("currencies"):
            facts.append(f"The currency of {name} has the code {', '.join(currencies)}.")
        if languages := info.get("languages"):
            facts.append(f"The official languages of {name} (ISO codes): {', '.join(languages)}.")
        if population := info.get("population"):
            facts.append(f"{name} had about {int(population):,} inhabitants (around 2015).")
        documents.append((f"countryinfo:{name}", name, " ".join(facts)))
    return documents
