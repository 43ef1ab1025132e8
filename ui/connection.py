"""The "Test connection" check behind the settings dialog: sign in to Earth Engine and run one tiny computation."""

from __future__ import annotations

import time
from typing import Any, Optional

from qgis.PyQt.QtCore import QCoreApplication

_translate = QCoreApplication.translate


def check_connection(project: str, url: Optional[str] = None, credentials: Any = None) -> tuple[bool, str]:
    """Initialize Earth Engine for ``project`` and evaluate ``ee.Number(1)`` on the server.

    ``url``: Earth Engine endpoint ('' or None: the default). ``credentials``: None for the user's stored
    credentials (``earthengine authenticate``), or a service-account key dict. Returns ``(ok, message)``;
    the message says what the server answered, or what went wrong and how to fix it. Never raises for
    Earth Engine failures and never shows a secret.
    """
    from ..processing_provider import dependencies

    missing = dependencies.missing_message(["ee"])
    if missing:
        return False, missing
    from ..algorithms.gee import GeeError, auth

    start = time.monotonic()
    try:
        used = auth.initialize((project or "").strip() or None, credentials=credentials, url=url or None,
                               force=True)
        import ee

        answer = ee.Number(1).getInfo()
    except GeeError as exc:
        return False, str(exc)
    except Exception as exc:
        return False, str(auth.explain(exc, project or None))
    seconds = time.monotonic() - start
    return True, _translate(
        "SmdConnection", "Connected to Earth Engine with project '{project}' at {url}: the test computation "
        "answered {answer} in {seconds:.1f} s.").format(
        project=used, url=auth.resolve_url(url or None), answer=auth.redact(answer), seconds=seconds)
