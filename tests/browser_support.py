"""Helpers for the real-browser tests: a Streamlit server on a free port and headless Chromium.

Debian's Chromium (/usr/bin/chromium) is used through Playwright; never ``playwright install``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class StreamlitServer:
    """A running ``streamlit run serve.py``; ``url`` is its origin, e.g. http://127.0.0.1:P."""

    process: subprocess.Popen
    port: int
    started_at: float  # time.monotonic() when the process was spawned
    healthy_at: float  # time.monotonic() when /_stcore/health first answered "ok"
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""


def _streamlit_executable() -> list[str]:
    venv_bin = Path(sys.executable).parent
    exe = venv_bin / "streamlit"
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "streamlit"]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200 and r.read().strip() == b"ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop(process: subprocess.Popen) -> None:
    """Stop the server and everything it started (its own process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def streamlit_server(
    log_path: Path,
    *,
    timeout: float = 60.0,
    app_dir: Path = ROOT,
    env: dict[str, str] | None = None,
) -> Iterator[StreamlitServer]:
    """Start ``streamlit run serve.py`` (as ``scripts/run.sh`` does, in ``app_dir``: the repo,
    or a copy of its entry files, with the repo's packages importable) on a free port; stop it
    on exit. ``env``: settings for the server beside the test's own (e.g. a data directory)."""
    port = free_port()
    cmd = [
        *_streamlit_executable(),
        "run",
        "serve.py",
        "--server.port",
        str(port),  # the address is .streamlit/config.toml's (127.0.0.1), as for run.sh
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT)}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w", encoding="utf-8")
    started = time.monotonic()
    process = subprocess.Popen(
        cmd,
        cwd=app_dir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,  # own process group: teardown stops only what we started
    )
    server = StreamlitServer(process, port, started, started, log_path)
    try:
        deadline = started + timeout
        while not _healthy(server.url):
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {process.returncode}:\n{server.log()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit not healthy after {timeout:.0f}s:\n{server.log()}")
            time.sleep(0.1)
        server.healthy_at = time.monotonic()
        yield server
    finally:
        _stop(process)
        log.close()


def launch_chromium(playwright):
    """Headless Debian Chromium with background networking off."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def map_frame(page, timeout: float = 30.0):
    """The frame whose document holds ``.leaflet-container`` (the streamlit-folium iframe)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for frame in page.frames:
            if frame is page.main_frame or frame.is_detached():
                continue
            with contextlib.suppress(Exception):
                # a rerun may remount the component: skip an iframe no longer on the page
                if (
                    frame.evaluate("() => !!document.querySelector('.leaflet-container')")
                    and frame.frame_element().bounding_box()
                ):
                    return frame
        page.wait_for_timeout(100)
    raise AssertionError(f"no frame with .leaflet-container after {timeout}s: {page.frames}")


__all__ = [
    "ARTIFACTS",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "ROOT",
    "StreamlitServer",
    "free_port",
    "launch_chromium",
    "map_frame",
    "streamlit_server",
]
