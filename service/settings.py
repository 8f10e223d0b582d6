"""The one settings object, read from the environment (prefix ``DESCENT_``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlengine.types import Limits


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DESCENT_", extra="ignore")

    data_dir: Path = Field(Path(".descent"), description="Embedded database, broker and files.")
    database_url: str | None = Field(None, description="Default: SQLite in the data dir.")
    broker_url: str | None = Field(None, description="Default: embedded broker in the data dir.")

    # Limits on what a request may ask; each is refused with a 4xx naming the setting.
    max_upload_bytes: int = 200 * 1024 * 1024
    max_rows: int = 5_000_000
    max_columns: int = 5_000
    max_epochs: int = 10_000
    max_parameters: int = 50_000_000
    max_layer_width: int = 16_384
    max_env_cells: int = 10_000
    max_env_side: int = 256
    max_table_entries: int = 1_000_000
    max_timesteps: int = 5_000_000
    max_predict_rows: int = 10_000
    max_json_bytes: int = Field(8 * 1024 * 1024, description="Largest JSON request body.")
    max_auth_failures: int = Field(30, description="Failed authentications per client a minute.")

    # Queues: CPU jobs on the default queue, ``device: cuda`` jobs on the GPU queue.
    default_queue: str = "descent"
    gpu_queue: str = "descent-gpu"
    # Longer than the longest job (Redis redelivers an unacked job after this many seconds).
    visibility_timeout: int = 24 * 3600

    # Liveness: a running job's worker writes a heartbeat; a stale one is requeued.
    heartbeat_interval: float = 2.0
    heartbeat_timeout: float = 30.0
    reaper_interval: float = 10.0
    max_attempts: int = 3

    # Torch threads per job process; 0: the machine's cores divided by the worker concurrency.
    torch_threads: int = 0

    model_cache_size: int = 16
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'descent.db').resolve()}"

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def limits(self) -> Limits:
        return Limits(
            max_epochs=self.max_epochs,
            max_parameters=self.max_parameters,
            max_timesteps=self.max_timesteps,
            max_layer_width=self.max_layer_width,
            max_env_cells=self.max_env_cells,
            max_env_side=self.max_env_side,
            max_table_entries=self.max_table_entries,
        )


@lru_cache
def get_settings() -> Settings:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return settings
