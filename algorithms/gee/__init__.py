"""Earth Engine access: authentication (``auth``), tiled pixel transport (``transport``), the dataset
catalog and expressions.

Importing this package does not import ``ee``: the Processing provider loads without earthengine-api.
"""

from __future__ import annotations

from ..errors import SmdError


class GeeError(SmdError):
    """An Earth Engine request failed; the message says why and what to do.

    ``kind`` is one of "auth" (not authenticated), "project" (project missing, not registered or no
    permission), "quota" (quota exceeded / too many requests), "too_large" (request beyond interactive
    limits: use an export), "compute_limit" (computation timed out or ran out of memory), "network"
    (unreachable, timeout, dropped connection), "server" (5xx), "payload" (damaged answer), "other".
    """

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


__all__ = ["GeeError"]
