"""A store that cannot be reached is one sentence in the page's language, exit code 2 on the
command line, and never shows the password: malformed URLs, a wrong password, a stopped server,
an unknown database."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from base.errors import StoreError
from geo.backends import PostGISBackend

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-Pa55"

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"), pytest.mark.both_stores]

MALFORMED = [
    f"postgresql://user:{SECRET}@[::1/db",  # an IPv6 host without its bracket
    f"postgresql://user:{SECRET}@host:notaport/db",
    f"host=127.0.0.1 password={SECRET} dbname",  # key=value settings, one without '='
    f"postgresql://user:{SECRET}@127.0.0.1:5432/db?sslmode=sometimes",
    "postgresql://xining:my s3cret-Pa55@127.0.0.1:5432/db",  # a space in the password
    "postgresql://xining:s3cret@Pa55@127.0.0.1:5432/db",  # an unencoded @ in it
    f"notaurl {SECRET}",
]
# every part of a password that must not be shown, whatever the URL's form
PARTS = ("s3cret", "Pa55", SECRET)


def _unreachable(pg_url: str) -> dict[str, tuple[str, str, str]]:
    """URL → (what the English sentence says, what the Chinese one says) for a live server."""
    parts = urlsplit(pg_url)
    host = f"127.0.0.1:{parts.port}"
    return {
        f"postgresql://xining_pw:{SECRET}@{host}/xining_test": (
            "refused the user name or password",
            "拒绝了用户名或密码",
        ),
        f"postgresql://xining:{SECRET}@127.0.0.1:1/xining_test": (
            "does not answer",
            "没有响应",
        ),
        f"postgresql://xining:{SECRET}@{host}/no_such_db": (
            "does not exist",
            "没有该网址指定的数据库",
        ),
    }


@pytest.mark.parametrize("url", MALFORMED)
def test_a_malformed_url_is_one_sentence_without_the_password(url):
    started = time.monotonic()
    with pytest.raises(StoreError) as caught:
        PostGISBackend(url, connect_timeout=3).registry_versions()
    assert time.monotonic() - started < 5
    exc = caught.value
    for text in (str(exc), exc.text("zh"), repr(exc.args)):
        assert not any(part in text for part in PARTS), text
    assert str(exc).endswith(".") and exc.text("zh").endswith("。")  # one sentence each
    assert "Traceback" not in str(exc) and "\n" not in str(exc)
    assert exc.__cause__ is None and exc.__suppress_context__  # the driver's error is not chained


@pytest.mark.both_stores
def test_a_wrong_password_a_stopped_server_and_an_unknown_database_are_said(pg_url):
    for url, (en, zh) in _unreachable(pg_url).items():
        started = time.monotonic()
        with pytest.raises(StoreError) as caught:
            PostGISBackend(url, connect_timeout=3).load_registry("park")
        assert time.monotonic() - started < 5, url
        assert en in str(caught.value) and zh in caught.value.text("zh"), url
        assert SECRET not in str(caught.value) + caught.value.text("zh")
        where = urlsplit(url)
        assert f"{where.username}@{where.hostname}:{where.port}{where.path}" in str(caught.value)


def _cli(
    module: str, *args: str, url: str, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {**os.environ, **(extra or {}), "XINING_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("geo.db", "status"),
        ("geo", "summarize", "-o", "out.csv"),
        ("maps", "render", "-o", "m.png"),
    ],
    ids=["geo.db", "geo", "maps"],
)
def test_the_command_lines_exit_2_with_one_line_and_no_password(command, tmp_path):
    module, *args = command
    args = [str(tmp_path / a) if a.endswith((".csv", ".png")) else a for a in args]
    proc = _cli(module, *args, url=MALFORMED[0])
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not any(part in proc.stderr + proc.stdout for part in PARTS)
    assert "malformed" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_dashboard_says_it_in_one_sentence_in_the_pages_language(monkeypatch, lang):
    monkeypatch.setenv("XINING_DATABASE_URL", MALFORMED[0])
    st.cache_data.clear()
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, at.exception
    [error] = [e.value for e in at.error]
    assert ("格式有误" if lang == "zh" else "is malformed") in error
    page = "".join(str(e.proto) for e in at.main) + "".join(str(e.proto) for e in at.sidebar)
    assert not any(part in page for part in PARTS) and "Traceback" not in page
    assert not at.get("component_instance")  # no map of other data
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.mark.both_stores
def test_a_schema_never_set_up_is_one_sentence_naming_the_command(pg_url):
    env = {"XINING_DATABASE_SCHEMA": "xining_never_made"}
    for module, *args in (("geo.db", "status"), ("geo", "actuals", "export", "-o", "/dev/null")):
        proc = _cli(module, *args, url=pg_url, extra=env)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr and "geo.db init" in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
