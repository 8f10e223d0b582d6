"""/v1/datasets: upload, list, inspect, preview and delete datasets."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from service.auth.keys import OwnerDep
from service.auth.tables import Owner
from service.blobs import delete_blobs, put_blob, read_blob
from service.datasets.ingest import from_parquet_bytes, ingest, json_rows, to_parquet_bytes
from service.datasets.schemas import DatasetOut, RowsOut
from service.datasets.tables import Dataset
from service.db import SessionDep, get_owned, new_id, session_scope
from service.errors import BadRequest, Conflict, TooLarge, Unprocessable
from service.jobs.repository import dataset_in_use
from service.pagination import CursorQuery, LimitQuery, Page, paginate
from service.settings import Settings, get_settings

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])

UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV with a header row, Parquet, or NPZ (X, optional y)",
                        },
                        "name": {"type": "string", "description": "Default: the file name."},
                    },
                }
            }
        },
    }
}


def get_owned_dataset(session: Session, owner: Owner, dataset_id: str) -> Dataset:
    return get_owned(session, Dataset, owner.id, dataset_id)


async def _limited(request: Request, limit: int) -> AsyncGenerator[bytes, None]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise TooLarge(_too_large(limit))
        yield chunk


def _bounded(filename: str, keep: int = 100) -> str:
    """A file name as long as errors and rows may quote (its start and its extension)."""
    if len(filename) <= 2 * keep:
        return filename
    return f"{filename[:keep]}...{filename[-keep:]}"


def _too_large(limit: int) -> str:
    return (
        f"upload is larger than the limit of {limit} bytes (setting DESCENT_MAX_UPLOAD_BYTES); "
        "upload a smaller file or raise the limit"
    )


@router.post(
    "",
    status_code=201,
    response_model=DatasetOut,
    openapi_extra=UPLOAD_BODY,
    summary="Upload a dataset (multipart: file, name)",
    responses={413: {"description": "Too large"}, 422: {"description": "Bad file"}},
)
async def upload_dataset(request: Request, owner: OwnerDep) -> DatasetOut:
    settings = get_settings()
    limit = settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise TooLarge(_too_large(limit))
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        raise BadRequest(
            "send the dataset as multipart/form-data with a 'file' field "
            "(curl -F file=@data.csv ...)"
        )
    parser = MultiPartParser(request.headers, _limited(request, limit), max_files=1, max_fields=8)
    try:
        form = await parser.parse()
    except MultiPartException as exc:
        raise BadRequest(f"could not read the multipart body: {exc.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Unprocessable.at(["body", "file"], "field 'file' is required: the dataset file")
        filename = _bounded(upload.filename or "dataset.csv")
        name_field = form.get("name")
        name = name_field if isinstance(name_field, str) and name_field.strip() else filename
        tmp_dir = settings.data_dir / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        # The client's file name is not part of the temporary file's: it may be anything.
        fd, tmp_name = tempfile.mkstemp(dir=tmp_dir, suffix=".upload")
        tmp_path = Path(tmp_name)
        try:
            sha = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := await upload.read(1 << 20):
                    sha.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            dataset = await run_in_threadpool(
                _store, tmp_path, filename, name, owner.id, size, sha.hexdigest(), settings
            )
        finally:
            tmp_path.unlink(missing_ok=True)
    finally:
        await form.close()
    return DatasetOut.model_validate(dataset)


def _store(
    path: Path, filename: str, name: str, owner_id: str, size: int, sha256: str, settings: Settings
) -> Dataset:
    ingested = ingest(path, filename, settings)
    data = to_parquet_bytes(ingested.table)
    with session_scope() as session:
        blob = put_blob(session, data)
        dataset = Dataset(
            id=new_id("ds"),
            owner_id=owner_id,
            name=name[:500],
            format=ingested.format,
            n_rows=ingested.table.num_rows,
            n_columns=ingested.table.num_columns,
            columns=ingested.columns,
            sample_shape=ingested.sample_shape,
            size_bytes=size,
            sha256=sha256,
            blob_id=blob.id,
        )
        session.add(dataset)
        session.flush()
        return dataset


@router.get("", response_model=Page[DatasetOut], summary="List your datasets, newest first")
def list_datasets(
    session: SessionDep, owner: OwnerDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[DatasetOut]:
    stmt = select(Dataset).where(Dataset.owner_id == owner.id)
    rows, next_cursor = paginate(session, stmt, [Dataset.created_at, Dataset.id], limit, cursor)
    return Page(items=[DatasetOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{dataset_id}", response_model=DatasetOut, summary="One dataset and its profile")
def get_dataset(dataset_id: str, session: SessionDep, owner: OwnerDep) -> DatasetOut:
    return DatasetOut.model_validate(get_owned_dataset(session, owner, dataset_id))


@router.get("/{dataset_id}/rows", response_model=RowsOut, summary="Preview rows")
def dataset_rows(
    dataset_id: str,
    session: SessionDep,
    owner: OwnerDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> RowsOut:
    dataset = get_owned_dataset(session, owner, dataset_id)
    table = from_parquet_bytes(read_blob(session, dataset.blob_id)).slice(offset, limit)
    return RowsOut(
        columns=table.column_names, rows=json_rows(table), offset=offset, n_rows=dataset.n_rows
    )


@router.delete(
    "/{dataset_id}",
    status_code=204,
    summary="Delete a dataset (409 while a queued or running job uses it)",
)
def delete_dataset(dataset_id: str, session: SessionDep, owner: OwnerDep) -> Response:
    dataset = get_owned_dataset(session, owner, dataset_id)
    if dataset_in_use(session, dataset.id):
        raise Conflict(
            f"dataset '{dataset_id}' is used by a queued or running job; "
            "wait for it to end or cancel it, then delete"
        )
    blob_id = dataset.blob_id
    session.delete(dataset)
    session.flush()
    delete_blobs(session, [blob_id])
    return Response(status_code=204)
