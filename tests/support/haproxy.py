"""HAProxy (Debian's package, installed by ``make test``) in front of openlive replicas, for the tests.

It terminates TLS with the development certificate (google-genai only speaks ``wss://``), balances
HTTP and WebSocket connections over the replicas' plain ports, and checks each replica's ``/readyz``
every 300 ms, so a draining, full or dead replica gets no new connection. A refused or failed connection
is retried on another replica (``retry-on conn-failure 503``), which is what makes a replica's HTTP 503
handshake refusal invisible to clients. ``/lb-stats`` on the same port answers the servers' states as CSV.
The settings are the ones docs/scaling.md recommends, with shorter check intervals.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from owned_process import OwnedProcess, free_port, log_tail, stop_group

CONFIG = """
global
    log stdout format raw local0 info
    maxconn 1000

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A Live session is one long WebSocket: once upgraded, the connection may idle this long.
    timeout tunnel 1h
    timeout client-fin 5s
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response 503

frontend live
    bind 127.0.0.1:{port} ssl crt {pem}
    stats enable
    stats uri /lb-stats
    stats refresh 1s
    default_backend replicas

backend replicas
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 300ms fastinter 300ms downinter 300ms fall 2 rise 2
{servers}
"""


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or (
        "/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK) else None
    )
    if found is None:
        pytest.skip(
            "haproxy is not installed (make test installs it: scripts/install-system-packages.sh --test)"
        )
    return found


@dataclass
class HAProxy(OwnedProcess):
    workdir: Path
    cert: Path  # the development certificate; its key is key.pem beside it
    backends: Sequence[tuple[str, int]]  # (name, plain port) of each replica on 127.0.0.1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def https_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "haproxy.log"

    def start(self) -> None:
        binary = haproxy_binary()
        pem = self.workdir / "haproxy.pem"
        pem.write_bytes(self.cert.read_bytes() + self.cert.with_name("key.pem").read_bytes())
        servers = "\n".join(f"    server {name} 127.0.0.1:{port} check" for name, port in self.backends)
        config = self.workdir / "haproxy.cfg"
        config.write_text(CONFIG.format(port=self.port, pem=pem, servers=servers))
        subprocess.run([binary, "-c", "-q", "-f", str(config)], check=True, timeout=30)
        with self.log_path.open("wb") as log:
            # -db: stay in the foreground (the test owns the process); -W is not used, so one process.
            self.process = subprocess.Popen(
                [binary, "-db", "-f", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def states(self, ctx: object) -> dict[str, str]:
        """Each replica's state as HAProxy sees it (UP, DOWN, ...)."""
        r = httpx.get(f"{self.https_url}/lb-stats;csv", verify=ctx, timeout=5)  # type: ignore[arg-type]
        rows = [line.split(",") for line in r.text.splitlines() if line and not line.startswith("#")]
        return {row[1]: row[17] for row in rows if row[0] == "replicas" and row[1] not in ("BACKEND",)}

    def wait_states(self, ctx: object, wanted: dict[str, str], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        seen: dict[str, str] = {}
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_tail()
            with contextlib.suppress(httpx.HTTPError):
                seen = self.states(ctx)
                if all(seen.get(k, "").startswith(v) for k, v in wanted.items()):
                    return
            time.sleep(0.2)
        raise AssertionError(f"HAProxy states {seen}, wanted {wanted}\n{self.log_tail()}")

    def stop(self) -> None:
        stop_group(self.process, grace_s=10)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, "haproxy", lines)
