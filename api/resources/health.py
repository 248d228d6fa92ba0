"""/api/health: can we reach the database and the broker?"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import falcon


class Health:
    """The state of the database and the broker: 200 when both answer, else 503.

    Args:
        check: returns ``{"database": …, "broker": …}``, each "ok…" or "error: …",
            and ``"hosts"``: each host's pause and degraded flag (shown, never a 503).
    """

    public = True  # load balancers and compose health checks carry no token
    uses_database = False  # it reports a database failure instead of failing with it

    def __init__(self, check: Callable[[], dict[str, Any]]) -> None:
        self.check = check

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        state = self.check()
        healthy = all(v.startswith("ok") for v in state.values() if isinstance(v, str))
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.cache_control = ["no-store"]
        resp.media = state
