"""API keys: made by the command line, stored hashed, checked on every /v1 request."""

from __future__ import annotations

import hashlib
import secrets
from typing import Annotated

from fastapi import Depends, Header
from sqlalchemy import select
from sqlalchemy.orm import Session

from service.auth.tables import ApiKey, Owner
from service.db import SessionDep, new_id
from service.errors import Unauthorized


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
    return session.scalar(
        select(Owner)
        .join(ApiKey, ApiKey.owner_id == Owner.id)
        .where(ApiKey.token_hash == hash_token(token))
    )


def current_owner(
    session: SessionDep, authorization: Annotated[str | None, Header()] = None
) -> Owner:
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
