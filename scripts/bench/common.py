"""Shared by the benchmark's parts: the API server processes it starts, and CPU
accounting read from /proc (Linux)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# --- CPU accounting ----------------------------------------------------------------
def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants."""
    found = [pid]
    for parent in found:
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                children = Path(f"/proc/{parent}/task/{task}/children").read_text().split()
            except OSError:
                continue
            found.extend(int(child) for child in children if int(child) not in found)
    return found


# Server processes that work for every database: the WAL writer flushes what async
# commits leave behind, the checkpointer and background writer write dirty pages.
_POSTGRES_AUXILIARY = ("walwriter", "checkpointer", "background writer", "autovacuum")


def postgres_processes(database: str) -> list[int]:
    """PostgreSQL processes (on this machine) working for `database`: its backends, by
    their process title `postgres: [cluster: ]user database host(port) state`, and the
    server's auxiliary processes (WAL writer, checkpointer, background writer, autovacuum)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and (
            f" {database} " in title or any(name in title for name in _POSTGRES_AUXILIARY)
        ):
            found.append(int(entry))
    return found


def machine_cpu_s() -> tuple[float, float, float]:
    """(busy, total, interrupts) CPU seconds of the whole machine since boot, all cores;
    interrupts = irq + softirq time (on loopback, most of it is the network stack)."""
    try:
        first = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return 0.0, 0.0, 0.0
    values = [int(v) for v in first[1:9]]  # user nice system idle iowait irq softirq steal
    total = sum(values)
    idle = values[3] + values[4]
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS, (values[5] + values[6]) / CLOCK_TICKS


# --- servers ------------------------------------------------------------------------
@dataclass
class UvicornServer:
    """`uvicorn --factory <app> --workers N` in a session of its own, so that stopping it
    reaches its workers and nothing else."""

    name: str
    app: str
    port: int
    env: dict[str, str]
    log_path: Path
    workers: int = 2
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.app,
            "--workers",
            str(self.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def wait_healthy(self, path: str = "/health", timeout_s: float = 90.0) -> None:
        """Until `path` answers 200 (every worker must be up: a few probes in a row)."""
        assert self.process is not None
        deadline = time.monotonic() + timeout_s
        streak = 0
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                    )
                try:
                    streak = streak + 1 if client.get(path).status_code == 200 else 0
                except httpx.HTTPError:
                    streak = 0
                # With --workers N > 1: a master and N workers; with 1, one process.
                if streak >= 5 and len(self.pids()) >= (self.workers + 1 if self.workers > 1 else 1):
                    return
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not become healthy in {timeout_s:.0f} s:\n{self.log_tail()}")

    def pids(self) -> list[int]:
        return process_tree(self.process.pid) if self.process is not None else []

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM to the master (it stops its workers), then SIGKILL to the session."""
        process = self.process
        if process is None:
            return
        self.process = None
        started = process_tree(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        # Any worker still alive: only processes of the session started for this server.
        for pid in started[1:]:
            try:
                if os.getpgid(pid) == process.pid:
                    os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def log(message: str) -> None:
    """A progress line on stderr (stdout ends with the bench's JSON line)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM handler: unwind like Ctrl-C, so a bench's clean-up runs."""
    raise KeyboardInterrupt(f"signal {signum}")
