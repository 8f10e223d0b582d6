"""/v1/models: trained models and their predictions."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Body
from sqlalchemy import select
from sqlalchemy.orm import Session

from mlengine.predict import load_predictor
from mlengine.types import json_safe
from service.auth.keys import OwnerDep
from service.auth.tables import Owner
from service.blobs import read_blob
from service.db import SessionDep, get_owned
from service.models.cache import PredictorCache
from service.models.schemas import ModelOut, PredictOut
from service.models.tables import Model
from service.pagination import CursorQuery, LimitQuery, Page, paginate
from service.settings import get_settings

router = APIRouter(prefix="/v1/models", tags=["models"])

PREDICT_EXAMPLES = {
    "records": {"value": {"records": [{"sepal_length": 5.1, "sepal_width": 3.5}]}},
    "dataframe_split": {
        "value": {
            "dataframe_split": {"columns": ["sepal_length", "sepal_width"], "data": [[5.1, 3.5]]}
        }
    },
    "instances": {"value": {"instances": [[5.1, 3.5]]}},
    "observations": {"value": {"observations": [[0.01, 0.02, 0.03, 0.04]]}},
}


@lru_cache
def predictor_cache() -> PredictorCache:
    return PredictorCache(get_settings().model_cache_size)


def get_owned_model(session: Session, owner: Owner, model_id: str) -> Model:
    return get_owned(session, Model, owner.id, model_id)


@router.get("", response_model=Page[ModelOut], summary="List your models, newest first")
def list_models(
    session: SessionDep, owner: OwnerDep, limit: LimitQuery = 50, cursor: CursorQuery = None
) -> Page[ModelOut]:
    stmt = select(Model).where(Model.owner_id == owner.id)
    rows, next_cursor = paginate(session, stmt, [Model.created_at, Model.id], limit, cursor)
    return Page(items=[ModelOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{model_id}", response_model=ModelOut, summary="One model: inputs, classes, metrics")
def get_model(model_id: str, session: SessionDep, owner: OwnerDep) -> ModelOut:
    return ModelOut.model_validate(get_owned_model(session, owner, model_id))


@router.post(
    "/{model_id}/predict",
    response_model=PredictOut,
    response_model_exclude_none=True,
    summary="Predict from raw rows",
    description=(
        "Rows as they were in the uploaded file, in one of: `records`, `dataframe_records`, "
        "`dataframe_split`, `instances`, `inputs` (MLflow's scoring forms), or `observations` "
        "for reinforcement-learning policies. A missing or extra column, or a value of the "
        "wrong type, is a 422 naming the column and the expected inputs."
    ),
)
def predict(
    model_id: str,
    session: SessionDep,
    owner: OwnerDep,
    body: Annotated[dict[str, Any], Body(openapi_examples=PREDICT_EXAMPLES)],
) -> PredictOut:
    model = get_owned_model(session, owner, model_id)
    blob_id = model.blob_id
    predictor = predictor_cache().get(model.id, lambda: load_predictor(read_blob(session, blob_id)))
    # A body the model cannot take raises InputError: the app's handler answers 422 (413 when
    # there are too many rows).
    out = predictor.predict(body, max_rows=get_settings().max_predict_rows)
    return PredictOut(**json_safe(out))
