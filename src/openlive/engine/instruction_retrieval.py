"""Instruction retrieval: a session whose instruction cannot fit the prompt reads only the parts of it
that concern each turn (a documented deviation, docs/compatibility.md).

The instruction is cut into sections (instruction_sections.py). Its rules and persona are always in
the system turn, whole; every other section goes into a per-session index, and each turn's prompt gets
the sections most relevant to the user's words (interim words while they speak, for the prompt read
ahead, and the final ones), up to ``RETRIEVED_TOKENS``, in the instruction's order. They are put just
before the user's last words, as grounding's sources are, not in the system turn: the system turn and
tools then stay the same from turn to turn, so their KV state is read once and reused, and each turn
reads only its own sections.

The index is the profile's (``Profile.passage_index``: SQLite FTS5 and MiniLM embeddings, the hybrid
search of grounding) and is filled off the event loop when the session starts, once per instruction (a
later session with the same one takes it); until it is ready, and in profiles without one, sections are
ranked by the share of the user's content words they hold. A search runs on the event loop: one query
embedding, 6-12 ms, and the last query's answer is kept (the prompt read ahead and the reply repeat it).

``instruction_retrieval`` (``OPENLIVE_INSTRUCTION_RETRIEVAL``) chooses: ``auto`` (the server's default)
only when the whole instruction and tools cannot fit, ``always`` for every instruction with sections to
retrieve, ``never`` refuses an instruction that does not fit at setup with 1007.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence

from openlive.engine.history import before_last_user_words
from openlive.engine.instruction_sections import Section, split_sections
from openlive.engine.tasks import TaskOwner
from openlive.protocol.errors import invalid_argument
from openlive.stages.language_model import ChatMessage
from openlive.stages.search import PassageIndex

log = logging.getLogger(__name__)

MODES = ("auto", "always", "never")
# The most tokens a turn's retrieved sections take (about five sections): enough for the facts a turn
# asks about, little to read on two cores. Never more than half of what the context has left.
RETRIEVED_TOKENS = 1500
# How many ranked candidates a search returns (the token budget then decides how many are used).
CANDIDATES = 12
# Filled indexes kept for later sessions with the same instruction (an app's sessions share theirs), so
# that only the first one embeds its sections (9 s for 170,000 characters in 556 sections, load 1.6).
SHARED_INDEXES = 8
# Without the index: a section is relevant when it holds at least this share of the query's words.
MIN_SHARE = 0.5
RETRIEVED_PREAMBLE = (
    "Parts of your instructions that concern the person's words (use them; do not mention them):"
)
# Said in the system turn, so the model knows the rest of its instruction comes with the turns.
PARTS_NOTE = "Other parts of your instructions come with the person's messages when they concern them."
_URI = "instruction-section:"
# No tokenizer packs more characters than this into a token (the session's check uses the same bound).
_MAX_CHARS_PER_TOKEN = 8
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_STOPWORDS_LIST = """
    a an the of to in on at by for from with about as into is are was were be been am do does did
    have has had will would can could should may might must what which who whom whose when where why
    how that this these those it its i you he she we they me my your our their there here and or but
    not no so if than then tell please know say said us him her them any some much many"""
_STOPWORDS = frozenset(_STOPWORDS_LIST.split())


class InstructionRetrieval:
    """One session's retrieval over its instruction's sections."""

    def __init__(
        self,
        instruction: str,
        sections: list[Section],
        *,
        count_tokens: Callable[[str], int],
        budget_tokens: int,
        index_factory: Callable[[], PassageIndex] | None,
    ) -> None:
        self.instruction = instruction  # the instruction this was built for (a contextUpdate replaces it)
        self.sections = sections
        self.budget_tokens = budget_tokens
        self._count = count_tokens
        self._tokens: dict[int, int] = {}
        self._index_factory = index_factory
        self._index: PassageIndex | None = None
        self._words = {s.index: set(_content_words(s.text)) for s in sections if not s.kept}
        self._last: tuple[str, bool, list[int]] | None = None  # (query, index used, sections chosen)
        kept = "\n\n".join(s.text for s in sections if s.kept)
        self.kept_text = f"{kept}\n\n{PARTS_NOTE}" if kept else PARTS_NOTE

    @property
    def reserve_tokens(self) -> int:
        """What a turn's prompt keeps free for its sections (their budget, the preamble and lead)."""
        return self.budget_tokens + 32

    @property
    def index_ready(self) -> bool:
        """The profile's index is filled (until then, and without one, sections are ranked by words)."""
        return self._index is not None

    # -- the index -------------------------------------------------------------------------------------

    def start(self, owner: TaskOwner) -> None:
        """Take the index an earlier session filled for this instruction, or fill the profile's off the
        event loop (searches use word overlap meanwhile)."""
        factory = self._index_factory
        if factory is None:
            return
        key = _index_key(factory, self.instruction)
        self._index = _filled.get(key)
        if self._index is not None:
            _filled.move_to_end(key)
        else:
            owner.spawn(self._build_index(factory, key), "instruction-index")

    async def _build_index(self, factory: Callable[[], PassageIndex], key: _IndexKey) -> None:
        self._index = index = await asyncio.to_thread(self._filled_index, factory)
        self._last = None  # the next search uses it
        _filled[key] = index
        while len(_filled) > SHARED_INDEXES:
            _filled.popitem(last=False)

    def _filled_index(self, factory: Callable[[], PassageIndex]) -> PassageIndex:
        index = factory()
        for section in self.sections:
            # One at a time: a shared embedder is then never held long by this build, so a query
            # (another session's, on the event loop) waits for one section at most.
            if not section.kept:
                index.add_documents(
                    [(f"{_URI}{section.index}", section.heading, section.text)], source="instruction"
                )
        return index

    # -- a turn's prompt -------------------------------------------------------------------------------

    def with_relevant_sections(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """``messages`` with the sections relevant to the last user message put before its words."""
        query = next((m.content for m in reversed(messages) if m.role == "user"), "")
        chosen = self.relevant(query)
        if not chosen:
            return messages
        texts = [self.sections[i].text for i in chosen]
        return before_last_user_words(
            messages, "\n\n".join([RETRIEVED_PREAMBLE, *texts]), "The person says: "
        )

    def relevant(self, query: str) -> list[int]:
        """The indices of the sections for ``query``: the best ranked up to the budget, in the
        instruction's order (the last query's answer is kept: prefills and replies repeat it)."""
        if not query.strip():
            return []
        index = self._index
        if self._last is not None and self._last[:2] == (query, index is not None):
            return self._last[2]
        ranked = self._ranked_by_index(index, query) if index is not None else self._ranked_by_words(query)
        chosen: list[int] = []
        texts: set[str] = set()
        used = 0
        for i in ranked:
            cost = self._section_tokens(i)
            if self.sections[i].text in texts:
                continue  # an instruction that repeats itself: once is enough
            if used + cost <= self.budget_tokens:
                texts.add(self.sections[i].text)
                chosen.append(i)
                used += cost
        chosen.sort()
        self._last = (query, index is not None, chosen)
        return chosen

    def _ranked_by_index(self, index: PassageIndex, query: str) -> list[int]:
        ranked: list[int] = []
        for passage in index.search_now(query, limit=CANDIDATES):
            if passage.uri.startswith(_URI):
                i = int(passage.uri.removeprefix(_URI))
                if i not in ranked:
                    ranked.append(i)
        return ranked

    def _ranked_by_words(self, query: str) -> list[int]:
        words = _content_words(query)
        if not words:
            return []
        shares = {i: sum(w in held for w in words) / len(words) for i, held in self._words.items()}
        relevant = [i for i, share in shares.items() if share >= MIN_SHARE]
        return sorted(relevant, key=lambda i: (-shares[i], i))[:CANDIDATES]

    def _section_tokens(self, i: int) -> int:
        if i not in self._tokens:
            self._tokens[i] = self._count(self.sections[i].text) + 2  # the blank line between
        return self._tokens[i]


def fit_instruction(
    *,
    mode: str,
    session_id: str,
    instruction: str,
    needed: int,
    holds: int,
    fixed_text: Sequence[str],
    count_tokens: Callable[[str], int],
    index_factory: Callable[[], PassageIndex] | None,
) -> InstructionRetrieval | None:
    """How the session's instruction goes into its prompts: None, whole (it fits, or retrieval is off);
    or through retrieval. Raises the setup's 1007 when neither fits, with the numbers.

    ``needed``: the tokens of the whole system text and tools; ``holds``: what the context holds for
    them; ``fixed_text``: the system text's other parts and the tools' declarations, always sent.
    """
    if mode not in ("auto", "always") or (mode == "auto" and needed <= holds):
        if needed > holds:
            raise invalid_argument(f"the instruction and tools need {needed} tokens; the model holds {holds}")
        return None
    sections = split_sections(instruction)
    if not any(not s.kept for s in sections):
        if needed > holds:  # nothing to retrieve: all of it is rules and persona
            raise invalid_argument(f"the instruction and tools need {needed} tokens; the model holds {holds}")
        return None
    kept = "\n\n".join(s.text for s in sections if s.kept)
    always_sent = [*fixed_text, kept, PARTS_NOTE]
    chars = sum(len(t) for t in always_sent)
    if chars > _MAX_CHARS_PER_TOKEN * holds:  # far too long: not tokenized on the event loop
        fixed = chars // 4
    else:
        fixed = sum(count_tokens(t) for t in always_sent if t)
    if fixed > holds:
        raise invalid_argument(
            f"the instruction's rules and tools need {fixed} tokens; the model holds {holds}"
        )
    budget = min(RETRIEVED_TOKENS, (holds - fixed) // 2)
    retrieved = sum(not s.kept for s in sections)
    log.info(
        "session %s: instruction retrieval (%s): the instruction and tools need %d tokens, the model "
        "holds %d; %d kept sections and tools take %d, each turn adds up to %d tokens of %d sections",
        session_id, mode, needed, holds, len(sections) - retrieved, fixed, budget, retrieved,
    )  # fmt: skip
    return InstructionRetrieval(
        instruction, sections, count_tokens=count_tokens, budget_tokens=budget, index_factory=index_factory
    )


# (the profile's factory, the instruction's SHA-256) -> its filled index, least recently used first.
_IndexKey = tuple[Callable[[], PassageIndex], str]
_filled: OrderedDict[_IndexKey, PassageIndex] = OrderedDict()


def _index_key(factory: Callable[[], PassageIndex], instruction: str) -> _IndexKey:
    return factory, hashlib.sha256(instruction.encode()).hexdigest()


def _content_words(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS and (len(word) > 1 or word.isdigit()):
            seen.setdefault(word, None)
    return list(seen)
