"""Per-stage queue depth and lag as Prometheus gauges, read from the open sessions at scrape time.

A collector rather than gauges set as things happen: each session already keeps what is waiting in it
(``LiveSession.load()``: its inbox, its listener's audio backlog, its reply's wait for the language
model), so a scrape sums those on the event loop, and the engine needs no hook and takes no lock.

Names (all gauges):

* ``openlive_llm_waiting_sessions``: sessions whose reply has asked the language model and has had no
  output yet (queued behind other sessions on a shared model, or reading the prompt);
* ``openlive_llm_wait_max_seconds``: the longest such wait now (0 when none waits);
* ``openlive_audio_queued_seconds`` / ``openlive_audio_queued_max_seconds``: microphone audio received
  and not yet processed by the listeners, in all and in the most behind session (a session is closed
  past 30 s);
* ``openlive_session_inbox_depth`` / ``openlive_session_inbox_depth_max``: messages and events waiting
  for the sessions' loops, in all and in the fullest one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from openlive.engine.load import SessionLoad


class SessionLoadCollector(Collector):
    def __init__(self, loads: Callable[[], Iterable[SessionLoad]]) -> None:
        self._loads = loads

    def collect(self) -> Iterator[GaugeMetricFamily]:
        loads = list(self._loads())
        waits = [w for load in loads if (w := load.llm_wait_s) is not None]
        audio = [load.audio_queued_s for load in loads]
        inbox = [load.inbox_depth for load in loads]
        yield GaugeMetricFamily(
            "openlive_llm_waiting_sessions",
            "Sessions whose reply waits for the language model's first output.",
            value=len(waits),
        )
        yield GaugeMetricFamily(
            "openlive_llm_wait_max_seconds",
            "The longest time a reply has been waiting for the language model's first output.",
            value=max(waits, default=0.0),
        )
        yield GaugeMetricFamily(
            "openlive_audio_queued_seconds",
            "Seconds of microphone audio received and not yet processed, all sessions together.",
            value=sum(audio),
        )
        yield GaugeMetricFamily(
            "openlive_audio_queued_max_seconds",
            "Seconds of microphone audio not yet processed in the session most behind.",
            value=max(audio, default=0.0),
        )
        yield GaugeMetricFamily(
            "openlive_session_inbox_depth",
            "Messages and events waiting for the sessions' loops, all sessions together.",
            value=sum(inbox),
        )
        yield GaugeMetricFamily(
            "openlive_session_inbox_depth_max",
            "Messages and events waiting in the fullest session's inbox.",
            value=max(inbox, default=0),
        )
