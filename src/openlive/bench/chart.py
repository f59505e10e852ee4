"""The benchmark chart (PNG): latency per concurrency, barge-in, and the stage breakdown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGES = (
    ("asr_final", "input transcription finished"),
    ("first_text", "first output transcription"),
    ("first_audio", "first reply audio chunk"),
    ("first_audible", "first audible reply audio"),
)


def write_chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display: files only
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_barge, ax_stage) = plt.subplots(1, 3, figsize=(16, 5))
    fig.suptitle(f"openlive bench — {report.get('date')} — {report.get('machine', {}).get('cpu_model')}")

    latency = report.get("latency", {})
    levels = sorted(latency, key=int)
    series = [
        [t["v2v_ms"] for t in latency[n].get("turns", []) if t.get("v2v_ms") is not None] for n in levels
    ]
    if any(series):
        ax_lat.boxplot([s or [float("nan")] for s in series], showfliers=True)
        ax_lat.set_xticks(
            range(1, len(levels) + 1), [f"{n} session{'s' if n != '1' else ''}" for n in levels]
        )
        for i, values in enumerate(series, start=1):
            ax_lat.scatter([i] * len(values), values, s=12, alpha=0.6)
    ax_lat.axhline(700, linestyle="--", color="green", linewidth=1, label="p50 target 700 ms")
    ax_lat.axhline(1200, linestyle=":", color="red", linewidth=1, label="p95 target 1200 ms")
    if max((max(v) for v in series if v), default=0.0) > 5000:
        ax_lat.set_yscale("log")  # seconds-long outliers would squash the targets into the x axis
    ax_lat.set_title("voice-to-voice latency")
    ax_lat.set_ylabel("ms (end of speech → first audible reply)")
    ax_lat.legend(fontsize=8)

    trials = [t for t in report.get("barge_in", {}).get("trials", []) if t.get("valid")]
    if trials:
        xs = range(1, len(trials) + 1)
        ax_barge.bar(
            [x - 0.2 for x in xs], [t.get("interrupted_ms") or 0 for t in trials], 0.4, label="→ interrupted"
        )
        ax_barge.bar(
            [x + 0.2 for x in xs],
            [t.get("audio_stop_ms") or 0 for t in trials],
            0.4,
            label="→ last reply audio",
        )
        ax_barge.set_xticks(list(xs), [f"trial {x}" for x in xs])
        ax_barge.axhline(200, linestyle="--", color="green", linewidth=1, label="target 200 ms")
        ax_barge.legend(fontsize=8)
    else:
        ax_barge.text(0.5, 0.5, "not measured", ha="center", va="center", transform=ax_barge.transAxes)
    ax_barge.set_title("barge-in (from the onset of the interrupting speech)")
    ax_barge.set_ylabel("ms")

    width = 0.8 / max(1, len(levels))
    for i, n in enumerate(levels):
        stages = latency[n].get("stages_ms", {})
        p50s = [(stages.get(key) or {}).get("p50") or 0.0 for key, _ in STAGES]
        ax_stage.barh([j + i * width for j in range(len(STAGES))], p50s, width, label=f"{n} session(s)")
    ax_stage.set_yticks(
        [j + width * (len(levels) - 1) / 2 for j in range(len(STAGES))], [s for _, s in STAGES]
    )
    ax_stage.invert_yaxis()
    ax_stage.set_title("p50 from end of speech to … (client-side)")
    ax_stage.set_xlabel("ms")
    if levels:
        ax_stage.legend(fontsize=8)

    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
