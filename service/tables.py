"""Every ORM table, imported once so that metadata (and Alembic) sees them all."""

from service.auth.tables import ApiKey, Owner
from service.blobs import Blob
from service.datasets.tables import Dataset
from service.db import Base
from service.jobs.tables import Checkpoint, Job, MetricPoint
from service.models.tables import Model

__all__ = [
    "ApiKey",
    "Base",
    "Blob",
    "Checkpoint",
    "Dataset",
    "Job",
    "MetricPoint",
    "Model",
    "Owner",
]
