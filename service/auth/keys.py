"""API keys: made by the command line, stored hashed, checked on every /v1 request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.tables import ApiKey, Owner
from service.db import SessionDep, new_id
from service.errors import TooManyRequests, Unauthorized
from service.settings import get_settings


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, name: str) -> tuple[Owner, str]:
    """A new owner and its API key; returns the token, which is not stored."""
    owner = Owner(id=new_id("own"), name=name)
    token = f"dsk_{secrets.token_urlsafe(32)}"
    session.add(owner)
    session.flush()
    session.add(
        ApiKey(id=new_id("key"), owner_id=owner.id, name=name, token_hash=hash_token(token))
    )
    session.flush()
    return owner, token


def owner_for_token(session: Session, token: str) -> Owner | None:
    digest = hash_token(token)
    row = session.execute(
        select(Owner, ApiKey.token_hash)
        .join(ApiKey, ApiKey.owner_id == Owner.id)
        .where(ApiKey.token_hash == digest)
    ).first()
    if row is None or not hmac.compare_digest(row[1], digest):
        return None
    owner: Owner = row[0]
    return owner


class FailedAuthLimiter:
    """Failed authentications per client in a sliding minute; past the limit, a 429 with
    ``Retry-After`` until the oldest failure leaves the window."""

    WINDOW = 60.0

    def __init__(self) -> None:
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.WINDOW:
            times.popleft()
        return times

    def check(self, client: str, limit: int) -> None:
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) >= limit:
                retry = max(1, int(times[0] + self.WINDOW - now) + 1)
                raise TooManyRequests(
                    f"too many failed authentications from this client ({len(times)} in the "
                    f"last minute; the limit is {limit}, setting DESCENT_MAX_AUTH_FAILURES); "
                    f"retry in {retry} s with a valid token",
                    headers={"Retry-After": str(retry)},
                )
            if not times:
                self._failures.pop(client, None)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._recent(client, now).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a flood of clients
                self._failures.clear()


failed_auth = FailedAuthLimiter()

# Declared for the OpenAPI document (an Authorize button in /docs, generated clients send
# the token); the header itself is read below, for messages that say what is wrong.
bearer_scheme = HTTPBearer(
    auto_error=False, description="An API token: make one with `descent keys create NAME`."
)


def current_owner(
    request: Request,
    session: SessionDep,
    _: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Owner:
    client = request.client.host if request.client else "unknown"
    failed_auth.check(client, get_settings().max_auth_failures)
    try:
        return _authenticate(session, authorization)
    except Unauthorized:
        failed_auth.failed(client)
        raise


def _authenticate(session: Session, authorization: str | None) -> Owner:
    if not authorization:
        raise Unauthorized(
            "missing Authorization header; send 'Authorization: Bearer <token>' "
            "(make a token with 'descent keys create NAME')"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("Authorization header must be 'Bearer <token>'")
    owner = owner_for_token(session, token.strip())
    if owner is None:
        raise Unauthorized("invalid API token; make one with 'descent keys create NAME'")
    return owner


OwnerDep = Annotated[Owner, Depends(current_owner)]
