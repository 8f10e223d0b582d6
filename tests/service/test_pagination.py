"""Cursors: what a page hands out decodes to typed keys; anything else is a 422."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from service.errors import Unprocessable
from service.jobs.tables import Job, MetricPoint
from service.pagination import decode_cursor, encode_cursor


def _raw(values: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def test_round_trip() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    keys = [Job.created_at, Job.id]
    assert decode_cursor(encode_cursor([when, "job_1"]), keys) == [when, "job_1"]
    assert decode_cursor(encode_cursor([7, "val_loss"]), [MetricPoint.step, MetricPoint.name]) == [
        7,
        "val_loss",
    ]


@pytest.mark.parametrize(
    ("cursor", "keys"),
    [
        ("%%%", [Job.created_at, Job.id]),
        (_raw(["x", "job_1"]), [Job.created_at, Job.id]),
        (_raw([1, "job_1"]), [Job.created_at, Job.id]),
        (_raw(["2026-01-01T00:00:00+00:00"]), [Job.created_at, Job.id]),
        (_raw(["seven", "val_loss"]), [MetricPoint.step, MetricPoint.name]),
        (_raw([True, "val_loss"]), [MetricPoint.step, MetricPoint.name]),
        (_raw({"a": 1}), [MetricPoint.step, MetricPoint.name]),
    ],
)
def test_tampered_cursors_are_422(cursor: str, keys: list) -> None:
    with pytest.raises(Unprocessable, match="invalid cursor"):
        decode_cursor(cursor, keys)
