"""The status page's signed cookies: a session, a sign-in CSRF nonce, a one-shot notice.

A cookie's value is ``base64url(json) "." base64url(HMAC-SHA256)``, signed with
a key kept in the data dir (``session.key``), made once by whichever process
needs it first, so gunicorn's workers, and a restart, agree. A session names
its user and a fingerprint of their token hash: rotating the token or
removing the user ends it at once. Its CSRF token travels in every form.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY_FILE = "session.key"
KEY_BYTES = 32
SESSION_COOKIE = "tubepoller_session"
SIGNIN_COOKIE = "tubepoller_signin"  # the sign-in form's CSRF nonce (double submit)
NOTICE_COOKIE = "tubepoller_notice"
SESSION_MAX_AGE_S = 30 * 86400
MAX_COOKIE = 4096


@dataclass(frozen=True)
class Session:
    """A signed-in browser: whose, since when, and its CSRF token."""

    user_id: int
    fingerprint: str
    csrf: str
    issued_at: float


class Signer:
    """Sign and check cookie values with the install's key, read or made on first use.

    Args:
        data_dir: where ``session.key`` lives (TUBEPOLLER_DATA_DIR).
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / KEY_FILE
        self._key: bytes | None = None
        self._lock = threading.Lock()

    @property
    def key(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = load_or_make_key(self.path)
            return self._key

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """Return `payload` as a cookie value only this install can have written."""
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def unsign(self, purpose: str, value: str | None) -> dict[str, Any] | None:
        """Return the payload of a value `sign(purpose, …)` made, else None."""
        if not value or len(value) > MAX_COOKIE or "." not in value:
            return None
        body, _, mac = value.partition(".")
        if not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (ValueError, binascii.Error):
            return None
        return payload if isinstance(payload, dict) else None

    def fingerprint(self, token_hash: str) -> str:
        """Return what a session keeps of its user's token hash (not the hash itself)."""
        return self._mac("fingerprint", token_hash)[:22]

    def new_session(self, user_id: int, token_hash: str, now: float) -> tuple[Session, str]:
        """Return a fresh session for a user and its cookie value."""
        session = Session(user_id, self.fingerprint(token_hash), secrets.token_urlsafe(24), now)
        payload = {"u": user_id, "f": session.fingerprint, "c": session.csrf, "t": now}
        return session, self.sign("session", payload)

    def session(self, value: str | None, now: float) -> Session | None:
        """Return the session a cookie value holds, None when forged or expired."""
        payload = self.unsign("session", value)
        if payload is None:
            return None
        try:
            session = Session(
                int(payload["u"]), str(payload["f"]), str(payload["c"]), float(payload["t"])
            )
        except (TypeError, KeyError, ValueError):
            return None
        if not 0 <= now - session.issued_at <= SESSION_MAX_AGE_S:
            return None
        return session

    def _mac(self, purpose: str, body: str) -> str:
        digest = hmac.new(self.key, f"{purpose}:{body}".encode(), hashlib.sha256).digest()
        return _b64(digest)


def load_or_make_key(path: Path) -> bytes:
    """Return the key in `path`, writing a random one first when there is none.

    The new key is written to a private temporary file and linked into place,
    which fails if another process linked its own first: then theirs is read.
    Every process ends with the same key, and none reads a half-written one.
    """
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    key = bytes.fromhex(path.read_text().strip())
    if len(key) < 16:
        raise ValueError(f"{path}: the session key is too short; delete it to make a new one")
    return key


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
