"""The many-machines deployment description: parsed and checked (no Docker engine needed)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_compose_describes_the_deployment() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "api", "worker", "gpu-worker", "flower"} <= set(services)
    api = services["api"]
    assert "descent migrate" in " ".join(api["command"])  # migrations first
    env = api["environment"]
    assert env["DESCENT_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert env["DESCENT_BROKER_URL"].startswith("redis://")
    gpu = services["gpu-worker"]
    assert gpu["profiles"] == ["gpu"]
    assert "descent-gpu" in " ".join(gpu["command"])
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]
    assert services["worker"]["environment"] == env


def test_torch_is_pinned_exactly() -> None:
    pins = (ROOT / "constraints.txt").read_text().splitlines()
    assert "torch==2.13.0" in pins
