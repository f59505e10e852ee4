"""LlamaServer: a real OpenAI-compatible inference engine for the tests, llama-cpp-python's own server
(``llama_cpp.server``, the ``llama-cpp-python[server]`` extra that ``make test`` installs) serving the
packaged Qwen2.5 1.5B GGUF that ``openlive assemble`` put in the cache.

Run as a script, this file is that server's entry point with one change: the model loads without
llama.cpp's extra weight buffers on CPUs with AMX when the build is a stock one, whose AMX matmul
crashes on the first prompt (the embedded backend does the same, see
``llama_adapter.without_extra_buffer_types``).

As a context manager it starts the engine on 127.0.0.1 in its own process group, waits for
``/v1/models``, and stops it (SIGTERM, then SIGKILL) on exit; :meth:`kill` and :meth:`start` let a test
make the engine die mid-reply and come back on the same port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from owned_process import OwnedProcess, free_port, log_tail, signal_group, stop_group

STARTUP_TIMEOUT_S = 180.0


def packaged_gguf() -> Path:
    """The assembled GGUF of the embedded model (assembled now if ``make setup`` has not yet)."""
    from openlive.backends.assets import cache_dir, llm_gguf_path

    return llm_gguf_path(cache_dir(None))


@dataclass
class LlamaServer(OwnedProcess):
    workdir: Path
    model: Path = field(default_factory=packaged_gguf)
    n_ctx: int = 2048
    threads: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def log_path(self) -> Path:
        return self.workdir / "llama-server.log"

    def start(self) -> None:
        command = [
            sys.executable,
            __file__,
            "--model",
            str(self.model),
            "--model_alias",
            "qwen",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            "--verbose",
            "False",
        ]
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", HF_HUB_OFFLINE="1")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited with {self.process.returncode}\n{self.log_tail()}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/models", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"llama_cpp.server not up after {STARTUP_TIMEOUT_S:.0f} s\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL, as a crashed engine: open streams break without a final event."""
        signal_group(self.process, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.process, grace_s=10)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, "llama_cpp.server", lines)


def _main() -> None:
    from llama_cpp.server.__main__ import main

    from openlive.backends.llama_adapter import amx_faults, without_extra_buffer_types

    with without_extra_buffer_types(amx_faults()):
        main()


if __name__ == "__main__":
    _main()
