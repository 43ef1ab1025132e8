"""Assertions shared by the report tests (engine and Processing): one self-contained HTML file, user text escaped."""

from __future__ import annotations

import base64
import re

EVIL = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def check_self_contained(text: str) -> list[bytes]:
    """Assert the report is one self-contained HTML file; return its embedded images."""
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "<script" not in text.lower() and "<link" not in text.lower() and "<iframe" not in text.lower()
    assert "url(" not in text and "@import" not in text
    refs = re.findall(r"""(?:src|href)\s*=\s*["']?([^"' >]+)""", text, flags=re.I)
    assert all(r.startswith("data:") for r in refs), refs
    images = [base64.b64decode(m) for m in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]
    assert len(images) == len(refs)
    assert all(img.startswith(PNG_MAGIC) and len(img) > 5000 for img in images)
    return images
