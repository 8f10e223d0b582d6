"""Celery's SQLAlchemy transport (the embedded broker), with a short polling interval.

Kombu's SQLAlchemy channel hands every transport option to ``create_engine``, so the
``polling_interval`` option that other virtual transports read cannot be given to it;
its default of one second would add up to a second to every job's start. This subclass
passes only ``connect_args`` to the engine, and ``sqla+`` URLs resolve to it.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as kombu_sqla
from sqlalchemy import create_engine

POLLING_INTERVAL = 0.1


class Channel(kombu_sqla.Channel):
    def _engine_from_config(self) -> Any:
        conninfo = self.connection.client
        connect_args = conninfo.transport_options.get("connect_args", {})
        return create_engine(conninfo.hostname, connect_args=connect_args)


class Transport(kombu_sqla.Transport):
    Channel = Channel
    polling_interval = POLLING_INTERVAL


def install() -> None:
    TRANSPORT_ALIASES["sqla"] = f"{__name__}:Transport"
