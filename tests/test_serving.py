"""What the running server gives away: under ``/app/static/`` only the vendored files, whatever
else lies in ``static/``; this machine only unless told otherwise; no error details.

The server tests start ``streamlit run serve.py`` (what ``scripts/run.sh`` runs) in a scratch
copy of the entry files, config and ``static/`` with hostile files dropped into it, so the
real ``static/`` stays as the other tests expect it, and ask it over real HTTP.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.config import ShowErrorDetailsConfigOptions

from dashboard.serving import VendoredOnly
from maps.offline import ASSET_BASE_URL, VENDOR_DIR, vendored_files
from tests.browser_support import ROOT, StreamlitServer, streamlit_server

CONFIG = ROOT / ".streamlit" / "config.toml"
SECRET = b"XINING_DATABASE_URL=postgresql://planner:hunter2@gis-db/xining\n"
DROPPED = {
    ".env": SECRET,
    "vendor/evil.html": b"<script>fetch('/_stcore/health')</script>\n",
    "vendor/leaflet-1.9.4/.git-credentials": SECRET,
    "vendor/leaflet-1.9.4/images/x.svg": b"<svg onload='alert(1)'/>",
    "notes.txt": SECRET,
}
UNGUARDED = 'import streamlit as st\n\napp = st.App("app.py")\n'


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _copy(root: Path, *, serve: str | None = None) -> Path:
    """Entry files, config and ``static/`` in ``root/app`` (a one-line page: the static route
    does not depend on it), with :data:`DROPPED` added to ``static/``."""
    app = root / "app"
    shutil.copytree(ROOT / "static", app / "static")
    (app / ".streamlit").mkdir()
    shutil.copy(CONFIG, app / ".streamlit" / "config.toml")
    (app / "serve.py").write_text(serve or (ROOT / "serve.py").read_text(encoding="utf-8"))
    (app / "app.py").write_text('import streamlit as st\n\nst.write("ok")\n', encoding="utf-8")
    for rel, data in DROPPED.items():
        (app / "static" / rel).write_bytes(data)
    return app


@pytest.fixture(scope="module")
def guarded(tmp_path_factory) -> Iterator[tuple[StreamlitServer, Path]]:
    root = tmp_path_factory.mktemp("served")
    app = _copy(root)
    with streamlit_server(root / "streamlit.log", app_dir=app) as server:
        yield server, app


def test_without_the_guard_streamlit_serves_whatever_is_in_static(tmp_path):
    # Why serve.py exists: Streamlit's own static route hands out dotfiles and pages.
    app = _copy(tmp_path, serve=UNGUARDED)
    with streamlit_server(tmp_path / "streamlit.log", app_dir=app) as server:
        assert _get(f"{server.url}/app/static/.env") == (200, SECRET)
        assert _get(f"{server.url}/app/static/vendor/evil.html")[0] == 200


def test_only_the_vendored_files_are_served(guarded):
    server, _ = guarded
    for rel in DROPPED:
        status, body = _get(f"{server.url}/app/static/{rel}")
        assert status == 404, rel
        assert b"hunter2" not in body and b"<" not in body
    for rel in sorted(vendored_files()):
        assert _get(f"{server.url}{ASSET_BASE_URL}/{rel}") == (200, (VENDOR_DIR / rel).read_bytes())
    assert _get(f"{server.url}/_stcore/health") == (200, b"ok")


def test_a_file_dropped_while_the_server_runs_is_not_served(guarded):
    server, app = guarded
    (app / "static" / "vendor" / "later.html").write_bytes(b"<script>alert(1)</script>")
    (app / "static" / ".htpasswd").write_bytes(SECRET)
    assert _get(f"{server.url}/app/static/vendor/later.html")[0] == 404
    assert _get(f"{server.url}/app/static/.htpasswd")[0] == 404


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* write them) listening on ``port``."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address)
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net/tcp")
def test_the_server_listens_on_this_machine_only(guarded):
    server, _ = guarded
    assert _listening(server.port) == {"0100007F"}  # 127.0.0.1, nothing on 0.0.0.0 or ::


@pytest.mark.parametrize(
    ("path", "refused"),
    [
        ("/app/static/vendor/leaflet-1.9.4/leaflet.js", False),
        ("/base/app/static/vendor/leaflet-1.9.4/leaflet.js", False),  # server.baseUrlPath
        ("/app/static/vendor/MANIFEST.json", True),
        ("/app/static/.env", True),
        ("/app/static/vendor/./leaflet-1.9.4/leaflet.js", True),
        ("/app/static/vendor/leaflet-1.9.4/../x.html", True),
        ("/app/static/vendor/leaflet-1.9.4/leaflet.js/", True),
        ("/app/static/", True),
        ("/_stcore/health", False),
        ("/", False),
    ],
)
def test_the_guard_lets_through_exactly_the_vendored_urls(path, refused):
    assert VendoredOnly(app=None).refused(path) is refused


def test_shipped_config_shows_no_error_details_and_listens_locally():
    shipped = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert shipped["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE
    assert shipped["server"]["address"] == "127.0.0.1"
    assert shipped["server"]["enableStaticServing"] is True
    # ...and Streamlit's own config parser reads those values from the shipped file.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    code = (
        "import json; from streamlit import config; print(json.dumps([config.get_option(k) "
        "for k in ('client.showErrorDetails', 'server.address')]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == ["none", "127.0.0.1"]
