"""Settings from ``.streamlit/secrets.toml``: no file means "not configured"; a broken file is
said in one sentence and stops the page, never a silent fall-back to other data.
"""

from __future__ import annotations

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

NO_FILE = "no-secrets-found"  # streamlit's error id when no secrets file exists at all
MESSAGES = {
    "zh": "服务器的密钥配置文件 .streamlit/secrets.toml 无法读取（格式有误），"
    "请管理员修正后刷新页面。",
    "en": "The server's settings file .streamlit/secrets.toml cannot be read (it is malformed); "
    "ask the administrator to fix it, then reload the page.",
}


class SecretsFileError(RuntimeError):
    """The secrets file exists but cannot be parsed (the message shows none of its content)."""


def secret(name: str) -> str | None:
    """The setting ``name`` from the secrets file, or None when it is absent or there is no file.

    Raises :class:`SecretsFileError` when the file is there but broken.
    """
    try:
        value = st.secrets.get(name)
    except StreamlitSecretNotFoundError as exc:
        if getattr(exc, "error_id", None) == NO_FILE:
            return None
        raise SecretsFileError(MESSAGES["en"]) from None
    except OSError:  # there, but unreadable (permissions)
        raise SecretsFileError(MESSAGES["en"]) from None
    return value if isinstance(value, str) and value else None


def stop_on_broken_file(lang: str) -> None:
    """Show the one-sentence message in the page's language and stop the script."""
    st.error(MESSAGES.get(lang, MESSAGES["zh"]))
    st.stop()
