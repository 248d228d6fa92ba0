"""Query parameters shared by several resources; a bad value is a 400 naming it."""

from __future__ import annotations

import math

import falcon

from .auth import require_admin

MAX_WAIT_S = 60.0  # a waiting request holds a server thread; keep it bounded


def wait_seconds(req: falcon.Request, *, allow_zero: bool) -> float | None:
    """Return ``?wait=N`` in seconds, or None when absent.

    Raises:
        falcon.HTTPInvalidParam: N is not a number in (0, 60], or [0, 60]
            with `allow_zero`.
    """
    raw = req.get_param("wait")
    if raw is None:
        return None
    low = "0" if allow_zero else "more than 0"
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    # float() takes "nan" and "inf"; neither is a time to wait.
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise falcon.HTTPInvalidParam(f"wait is seconds, {low} to {MAX_WAIT_S:g}", "wait")
    if value > MAX_WAIT_S:
        raise falcon.HTTPInvalidParam(f"wait is at most {MAX_WAIT_S:g} seconds", "wait")
    return value


def scope_all(req: falcon.Request) -> bool:
    """Return True for an admin's ``?scope=all``.

    Raises:
        falcon.HTTPInvalidParam: scope is something else than "all".
        falcon.HTTPForbidden: a caller who is not an admin asked for it.
    """
    scope = req.get_param("scope")
    if scope is None:
        return False
    if scope != "all":
        raise falcon.HTTPInvalidParam('the only scope is "all"', "scope")
    require_admin(req)
    return True
