"""What every helper process the tests start shares (openlive serve, llama_cpp.server, HAProxy,
redis-server): a free port on 127.0.0.1, a context manager that stops the process even when starting it
failed half-way, stopping its whole process group, and the tail of its log for failure messages."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType
from typing import Self


def free_port() -> int:
    """A port that was free a moment ago (the small race is acceptable on a test machine)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def signal_group(process: subprocess.Popen[bytes] | None, sig: signal.Signals) -> None:
    """``sig`` to the process group ``process`` leads (started with ``start_new_session=True``)."""
    if process is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)


def stop_group(process: subprocess.Popen[bytes] | None, grace_s: float) -> None:
    """SIGTERM to the whole group, SIGKILL after ``grace_s``, then one SIGKILL to whatever of the group
    outlived its leader (a worker it spawned), so that no test leaves a process behind."""
    if process is None or process.poll() is not None:
        return
    signal_group(process, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        signal_group(process, signal.SIGKILL)
        process.wait(timeout=10)
    # Right after its leader was reaped the id is still this group's (the kernel does not reuse an id
    # while a member lives); with no member left this fails with ESRCH and does nothing.
    signal_group(process, signal.SIGKILL)


def log_tail(path: Path, label: str, lines: int) -> str:
    """The last ``lines`` of a process's log, headed by ``label``, for a test's failure message."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {label} log)"
    return f"---- {label} log (tail) ----\n" + "\n".join(text.splitlines()[-lines:])


class OwnedProcess:
    """A process the test owns: ``with Thing(...) as thing:`` starts it and always stops it, also when
    ``start`` fails after the process began (it may be running and never have become ready)."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
