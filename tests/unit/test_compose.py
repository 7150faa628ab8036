"""docker-compose.yml, checked without Docker: the services a real deployment needs, each
scalable where it must be, persistent where it must be, and every setting it passes a
setting citybrain really has (parsed by the same Settings the processes use)."""

from __future__ import annotations

import json
import re
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from citybrain.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DEFAULT = re.compile(r"\$\{(\w+):-([^}]*)\}")


def env(service: str) -> dict[str, str]:
    """The service's environment with ``${VAR:-default}`` resolved to the default."""
    raw = SERVICES[service].get("environment") or {}
    return {k: DEFAULT.sub(lambda m: m.group(2), str(v)) for k, v in raw.items()}


def test_the_services_of_a_deployment_are_there() -> None:
    assert set(SERVICES) == {"kafka", "redis", "topics", "worker", "web", "lb", "sim"}
    assert not [s for s in SERVICES if "zookeeper" in s]


def test_kafka_runs_in_kraft_mode_on_a_persistent_volume() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    e = kafka["environment"]
    assert set(e["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert e["KAFKA_CONTROLLER_QUORUM_VOTERS"].startswith(f"{e['KAFKA_NODE_ID']}@kafka:")
    data_dir = e["KAFKA_LOG_DIRS"]
    assert any(
        v.split(":")[1] == data_dir and v.split(":")[0] in COMPOSE["volumes"]
        for v in kafka["volumes"]
    )
    assert "healthcheck" in kafka


def test_redis_keeps_an_append_only_file_on_a_volume() -> None:
    redis = SERVICES["redis"]
    assert redis["image"].startswith("redis:")
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert any(
        v.split(":")[0] in COMPOSE["volumes"] and v.endswith(":/data") for v in redis["volumes"]
    )
    assert "healthcheck" in redis


@pytest.mark.parametrize("name", ["worker", "web"])
def test_workers_and_web_servers_scale(name: str) -> None:
    service = SERVICES[name]
    assert "container_name" not in service and "ports" not in service  # --scale works
    assert service["command"] == [name]
    assert "healthcheck" in service and service["restart"] == "unless-stopped"
    assert service["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert service["depends_on"]["redis"]["condition"] == "service_healthy"
    assert env(name)["CITYBRAIN_KAFKA__BROKERS"] == "kafka://kafka:9092"
    assert env(name)["CITYBRAIN_REDIS__URL"].startswith("redis://redis:6379")


def test_one_port_in_front_of_every_web_server() -> None:
    lb = SERVICES["lb"]
    (port,) = lb["ports"]
    assert DEFAULT.sub(lambda m: m.group(2), port) == "8080:8080"
    config = COMPOSE["configs"][lb["configs"][0]["source"]]["content"]
    assert "bind :8080" in config and re.search(r"server-template \S+ \d+ web:8080 ", config)
    assert "timeout tunnel" in config  # websockets stay open
    assert SERVICES["web"]["environment"]["CITYBRAIN_WEB__PORT"] == "8080"


def test_the_proxy_names_the_caller_and_only_the_proxy_is_believed() -> None:
    lb = SERVICES["lb"]
    config = COMPOSE["configs"][lb["configs"][0]["source"]]["content"]
    assert "option forwardfor" in config  # the caller's address in X-Forwarded-For
    address = lb["networks"]["default"]["ipv4_address"]
    (network,) = COMPOSE["networks"]["default"]["ipam"]["config"]
    subnet, dynamic = ip_network(network["subnet"]), ip_network(network["ip_range"])
    lb_address = ip_address(address)
    assert lb_address in subnet and lb_address not in dynamic  # no other container takes it
    # the web servers trust that address, and only it (the setting parses: test below)
    assert json.loads(env("web")["CITYBRAIN_WEB__TRUSTED_PROXIES"]) == [address]


def test_the_simulator_is_optional() -> None:
    assert SERVICES["sim"]["profiles"] == ["sim"]
    assert all("profiles" not in s for n, s in SERVICES.items() if n != "sim")


def _field(model: type[BaseModel], path: list[str]) -> bool:
    name, *rest = path
    field = model.model_fields.get(name)
    if field is None:
        return False
    if not rest:
        return True
    inner = field.annotation
    return isinstance(inner, type) and issubclass(inner, BaseModel) and _field(inner, rest)


@pytest.mark.parametrize("name", ["topics", "worker", "web", "sim"])
def test_every_setting_passed_is_a_real_setting_and_parses(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = env(name)
    for key in values:
        assert key.startswith("CITYBRAIN_"), key
        path = key.removeprefix("CITYBRAIN_").lower().split("__")
        assert _field(Settings, path), f"{name}: {key} is not a setting"
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings = Settings()
    assert settings.kafka.bootstrap_servers() == ["kafka:9092"]
    assert settings.kafka.partitions == 12
    assert settings.auth.anonymous_role == "none"  # tokens required unless .env says otherwise
    if name == "worker":
        assert (settings.worker_http_host, settings.worker_http_port) == ("0.0.0.0", 9100)


def test_the_image_holds_every_package() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in ("citybrain", "streams", "geo", "alerts", "feeds", "web"):
        assert re.search(rf"^COPY {package} {package}$", dockerfile, re.M), package
    assert 'ENTRYPOINT ["citybrain"]' in dockerfile
