"""Stored bytes (datasets as Parquet, checkpoints, model artifacts), kept in the database.

Keeping blobs in the same database as their rows makes "the row and its bytes appear
together or not at all" a plain transaction, and lets the API and workers run on
different machines with nothing shared but the database.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Integer, LargeBinary, String, delete, select
from sqlalchemy.orm import Mapped, Session, deferred, mapped_column

from service.db import Base, UTCDateTime, new_id, utcnow


class Blob(Base):
    __tablename__ = "blobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    created_at = mapped_column(UTCDateTime, default=utcnow, nullable=False)


def put_blob(session: Session, data: bytes) -> Blob:
    blob = Blob(
        id=new_id("blob"), sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), data=data
    )
    session.add(blob)
    session.flush()
    return blob


def read_blob(session: Session, blob_id: str) -> bytes:
    data = session.scalar(select(Blob.data).where(Blob.id == blob_id))
    if data is None:
        raise LookupError(f"blob {blob_id} is missing")
    return bytes(data)


def delete_blobs(session: Session, blob_ids: list[str]) -> None:
    if blob_ids:
        session.execute(delete(Blob).where(Blob.id.in_(blob_ids)))
