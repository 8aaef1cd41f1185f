"""How the dashboard is served: ``app.py`` behind :class:`dashboard.serving.VendoredOnly`.

``scripts/run.sh`` runs ``streamlit run serve.py``; Streamlit finds ``app`` (an ``st.App``)
and serves ``app.py`` as usual, with ``static/`` limited to the vendored files.
"""

import streamlit as st
from starlette.middleware import Middleware

from dashboard.serving import VendoredOnly

app = st.App("app.py", middleware=[Middleware(VendoredOnly)])
