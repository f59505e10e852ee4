"""``ToolChoice.offered``: which of a request's tools the model is shown."""

from __future__ import annotations

from openlive.stages.language_model import ToolChoice, ToolSpec

TOOLS = [ToolSpec(name="get_weather"), ToolSpec(name="book_table"), ToolSpec(name="play_song")]


def names(tools: list[ToolSpec]) -> list[str]:
    return [t.name for t in tools]


def test_auto_and_required_offer_every_tool_when_no_names_are_allowed() -> None:
    assert names(ToolChoice().offered(TOOLS)) == ["get_weather", "book_table", "play_song"]
    assert names(ToolChoice(mode="required").offered(TOOLS)) == ["get_weather", "book_table", "play_song"]


def test_allowed_names_filter_the_tools_in_their_declared_order() -> None:
    choice = ToolChoice(mode="required", allowed_names=("play_song", "get_weather", "unknown"))
    assert names(choice.offered(TOOLS)) == ["get_weather", "play_song"]


def test_none_offers_no_tool() -> None:
    assert ToolChoice(mode="none", allowed_names=("get_weather",)).offered(TOOLS) == []
