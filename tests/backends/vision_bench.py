"""Cost of the embedded FrameDescriber: loading (seconds, memory) and milliseconds per frame of a sign.

Not a test: run it by hand, `HF_HUB_OFFLINE=1 .venv/bin/python tests/backends/vision_bench.py [NICENESS]`
(the worker's nice value, 10 by default as in the server; 0 shows what the lower priority costs when other
work shares the cores). It reads
distinct frames (so each one is read, not answered from the previous description) on the describer's own
low-priority worker, as the server does, and prints the load average, which these figures depend on.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from sign_frames import random_sign, render_sign

FRAMES = 6


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return kib / 1024


async def main() -> None:
    rng = random.Random(12)
    before = rss_mib()
    started = time.perf_counter()
    from openlive.backends.vision_ocr import OcrFrameDescriber

    niceness = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    describer = OcrFrameDescriber(niceness=niceness)
    print(
        f"load: {time.perf_counter() - started:.2f} s (import and models), RSS +{rss_mib() - before:.0f} MiB"
    )
    stream = describer.new_stream()
    for size in ((640, 480), (1280, 720)):
        times, unchanged = [], []
        for _ in range(FRAMES):
            number, word = random_sign(rng)
            frame = render_sign(number, word, size=size)
            t = time.perf_counter()
            seen = await stream.describe(frame, "image/jpeg")
            times.append((time.perf_counter() - t) * 1000)
            assert seen.changed and number in seen.ocr_text and word in seen.ocr_text, seen
            t = time.perf_counter()
            assert not (await stream.describe(frame, "image/jpeg")).changed
            unchanged.append((time.perf_counter() - t) * 1000)
        print(
            f"{size[0]}x{size[1]} JPEG sign, nice {niceness}: read {statistics.median(times):.0f} ms median "
            f"(min {min(times):.0f}, max {max(times):.0f}), unchanged {statistics.median(unchanged):.0f} ms; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
    print(f"peak RSS {rss_mib():.0f} MiB")
    await describer.aclose()


if __name__ == "__main__":
    asyncio.run(main())
