"""The one settings object, read once at start-up and passed down.

Values come from (highest priority first) environment variables prefixed
``CITYBRAIN_`` (nested with ``__``, e.g. ``CITYBRAIN_KAFKA__BROKERS``), an optional
TOML config file named by ``CITYBRAIN_CONFIG``, then the defaults below.
Nothing else in the code base reads ``os.environ`` for configuration.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from alerts.crowd.los import LosConfig
from alerts.rules.vocabulary import DESKS
from citybrain.config.access import Role, allowed_set, host_name, networks
from geo.crs import CRS


class KafkaSettings(BaseModel):
    """Where the broker is and how topics are named."""

    brokers: str = Field("kafka://127.0.0.1:9092", description="Faust broker URL(s), ';'-separated")
    topic_prefix: str = Field("", description="prepended to every topic name, e.g. 'cb.'")
    partitions: int = Field(1, ge=1, description="partitions for topics the project creates")
    replication: int = Field(1, ge=1)
    # Short group timings make consumer-group joins take seconds on the embedded
    # broker instead of ~30 s; production Kafka may prefer Faust's defaults.
    rebalance_timeout_s: float = Field(3.0, gt=0)
    session_timeout_s: float = Field(10.0, gt=0)
    heartbeat_interval_s: float = Field(1.0, gt=0)
    fetch_max_wait_ms: int = Field(
        50,
        gt=0,
        le=5000,
        description="longest a consumer's fetch waits for data (Faust's own 1500 ms makes "
        "every idle hop that slow on brokers that answer multi-partition fetches late)",
    )

    @field_validator("brokers")
    @classmethod
    def _has_scheme(cls, v: str) -> str:
        for url in v.split(";"):
            if "://" not in url:
                raise ValueError(f"broker URL {url!r} needs a scheme, e.g. kafka://host:9092")
        return v

    def bootstrap_servers(self) -> list[str]:
        """``host:port`` list for plain Kafka clients (aiokafka), scheme stripped."""
        return [u.split("://", 1)[1] for u in self.brokers.split(";")]

    def topic(self, name: str) -> str:
        """Full topic name for a logical topic name such as ``events.camera``."""
        return f"{self.topic_prefix}{name}"


class RedisSettings(BaseModel):
    url: SecretStr = Field(SecretStr("redis://127.0.0.1:6379/0"), description="may hold a password")
    key_prefix: str = "citybrain:"
    max_connections: int = Field(
        50,
        ge=2,
        description="the web server's Redis connections at most; more requests wait for one "
        "(a burst of map clients reading their snapshot must queue, not fail)",
    )
    pool_timeout_s: float = Field(
        10.0, gt=0, description="how long a request waits for a free Redis connection, s"
    )


class TokenSettings(BaseModel):
    """One bearer token: who holds it and the role it grants (roles: web/auth.py)."""

    name: str = Field(min_length=1, max_length=100, description="holder, as /api/whoami shows it")
    role: Role
    desks: list[str] = Field(
        default_factory=list, description="liaison staff: the desks whose alerts they handle"
    )
    token: SecretStr = Field(description="at least 16 characters, e.g. secrets.token_urlsafe(32)")

    @model_validator(mode="before")
    @classmethod
    def _mask_token(cls, data: Any) -> Any:
        # Wrapped before validation so that errors show '**********', never the token.
        if isinstance(data, dict) and isinstance(data.get("token"), str):
            return {**data, "token": SecretStr(data["token"])}
        return data

    @field_validator("token")
    @classmethod
    def _long_enough(cls, v: SecretStr) -> SecretStr:
        if len(v.get_secret_value()) < 16:
            raise ValueError("token must be at least 16 characters")
        return v

    @field_validator("desks")
    @classmethod
    def _known_desks(cls, v: list[str]) -> list[str]:
        unknown = [d for d in v if d not in DESKS]
        if unknown:
            raise ValueError(f"unknown desk(s) {unknown}; desks are {', '.join(DESKS)}")
        return v

    @model_validator(mode="after")
    def _liaison_has_desks(self) -> TokenSettings:
        if self.role == "liaison" and not self.desks:
            raise ValueError(f'liaison {self.name!r} needs desks (e.g. desks = ["12345"])')
        return self


class AuthSettings(BaseModel):
    """Bearer tokens of the web server, and what callers without one may do."""

    tokens: list[TokenSettings] = Field(default_factory=list)
    anonymous_role: Role | Literal["none"] = Field(
        "viewer",
        description="role of requests without a token; 'none': they may only load the "
        "page and /healthz",
    )

    @field_validator("tokens")
    @classmethod
    def _distinct(cls, v: list[TokenSettings]) -> list[TokenSettings]:
        holders: dict[str, str] = {}  # token -> the name it was first given to
        for t in v:
            secret = t.token.get_secret_value()
            if secret in holders:  # the message names the holders, never the token
                raise ValueError(f"token of {t.name!r} is also given to another name")
            holders[secret] = t.name
        return v


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    broadcast_interval_s: float = Field(1.0, gt=0, description="cell-delta coalescing period")
    tile_url: str | None = Field(
        None,
        description="optional self-hosted XYZ raster tile URL template, e.g. http://tiles.local/{z}/{x}/{y}.png",
    )
    max_message_bytes: int = Field(
        64 * 1024,
        gt=0,
        description="largest websocket message a client may send, bytes; a larger one closes "
        "the connection (1009)",
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="largest HTTP request body accepted")
    send_timeout_s: float = Field(
        10.0,
        gt=0,
        description="a websocket client that takes longer to accept a message is dropped",
    )
    send_queue_max: int = Field(
        1000, ge=1, description="messages waiting for one websocket client; beyond: it is dropped"
    )
    history_interval_s: float = Field(
        10.0, gt=0, description="one heatmap frame for the time scrubber this often, s"
    )
    history_s: int = Field(3600, gt=0, description="heatmap frames are kept this long, s")
    closed_alerts_s: int = Field(
        86_400,
        gt=0,
        description="resolved/expired alerts leave the live view this long after closing, s "
        "(their audit trail stays)",
    )
    instance: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._-]{1,100}$",
        description="this web server's name, unique among the web servers sharing a Kafka "
        "cluster and Redis (its consumer group and stored feed positions); unset: "
        "web-<hostname>-<port>",
    )
    worker_stale_s: float = Field(
        120.0, gt=0, description="a grid worker not heard from this long is shown offline, s"
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="browser origins besides the server's own that may open /ws and send "
        "POST/PUT/PATCH/DELETE, e.g. https://ops.example.cn (scheme://host[:port])",
    )
    read_rate_per_s: float = Field(
        20.0, gt=0, description="GET/HEAD of /api/…, /ws handshakes, /metrics: per caller, per s"
    )
    read_burst: int = Field(200, ge=1, description="reads one caller may make at once")
    write_rate_per_s: float = Field(
        2.0,
        gt=0,
        description="state-changing requests and POST /api/query: per caller, per s",
    )
    write_burst: int = Field(20, ge=1, description="writes one caller may make at once")
    static_rate_per_s: float = Field(
        50.0,
        gt=0,
        description="GET/HEAD of the page's files and any other path but /api/…, /ws, /metrics, "
        "/healthz and /readyz: per caller, per s",
    )
    static_burst: int = Field(
        500, ge=1, description="page-file requests one caller may make at once"
    )
    ws_message_rate_per_s: float = Field(
        2.0, gt=0, description="messages a websocket client may send, per connection, per s"
    )
    ws_message_burst: int = Field(20, ge=1, description="websocket messages at once")
    replicas: int = Field(
        1,
        ge=1,
        le=64,
        description="web servers sharing the callers behind one address (a load balancer): "
        "each enforces 1/replicas of the read and write budgets and of signin_max_failures, "
        "so a caller spread over all of them gets the configured total at most",
    )
    signin_max_failures: int = Field(
        10,
        ge=1,
        description="requests with an unknown token from one caller address within "
        "signin_window_s before that address is refused (429) for signin_lockout_s",
    )
    signin_window_s: float = Field(60.0, gt=0, description="failed sign-ins counted this long, s")
    signin_lockout_s: float = Field(
        300.0, gt=0, description="how long an address with too many failed sign-ins waits, s"
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="names a browser may reach this server by (the Host header) besides "
        "localhost, its listen address, the hosts of allowed_origins and any IP address, "
        "e.g. map.example.cn; a request naming another host is refused (421)",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For "
        "names the caller (its rightmost address not itself a trusted proxy); from any "
        "other peer the header is ignored. Default: none",
    )

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, v: list[str]) -> list[str]:
        allowed_set(v)  # raises naming the entry that is not scheme://host[:port]
        return v

    @field_validator("allowed_hosts")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        return [host_name(h) for h in v]  # raises naming the entry that is not a host name

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies(cls, v: list[str]) -> list[str]:
        networks(v)  # raises naming the entry that is not an address or network
        return v


class PrivacySettings(BaseModel):
    """How long unmasked ticket text and the record of who read it are kept (docs/operations.md,
    "Personal data")."""

    ticket_text_s: int = Field(
        7 * 86_400,
        gt=0,
        description="a ticket's unmasked text is kept this long after the ticket's time, s: "
        "in Redis for GET /api/tickets/{id}, and the retention of the hotline.private topic",
    )
    view_audit_s: int = Field(
        365 * 86_400,
        gt=0,
        description="entries of the view audit (who read unmasked ticket text) are kept this "
        "long, s",
    )


class PipelineSettings(BaseModel):
    h3_resolution: int = Field(9, ge=0, le=15, description="resolution of the fine cells")
    partition_resolution: int = Field(
        6, ge=0, le=15, description="coarse parent resolution used as Kafka key for cell state"
    )
    crowd_window_s: int = Field(
        300, gt=0, description="a camera reading is kept (and shown, stale) this long, s"
    )
    camera_stale_s: int = Field(
        60, gt=0, description="a camera silent this long is stale: flagged, left out of density"
    )
    sensor_window_s: int = Field(300, gt=0, description="a sensor reading counts this long, s")
    hotline_window_s: int = Field(
        600, gt=0, description="hotline tickets cluster within this window, s"
    )
    max_lateness_s: int | None = Field(
        None,
        ge=0,
        description="events further behind their partition's event time than this are "
        "dead-lettered as late; unset: each kind's window (crowd, sensor, hotline)",
    )
    device_max_per_s: float = Field(
        5.0,
        gt=0,
        description="a camera or sensor may send this many readings per second of its own "
        "event time; beyond its burst, more are dead-lettered as 'rate'",
    )
    device_burst: int = Field(30, ge=1, description="readings a device may send at once")
    measure_every_ms: int = Field(
        100,
        ge=0,
        description="a partition's camera cells are measured (and their rules run) in rounds "
        "this often, ms of wall time, and at every sweep (each second); sensors and tickets "
        "at once; 0: a round after every record",
    )
    round_max_share: float = Field(
        0.1,
        gt=0,
        le=1,
        description="rounds may take at most this share of a partition's wall time: after "
        "a round that took c ms the next waits at least c / share ms (rounds space out "
        "under overload instead of crowding out the fold)",
    )
    max_future_skew_s: int = Field(
        300, ge=0, description="events further in the future are rejected"
    )
    max_age_s: int = Field(86_400, gt=0, description="events older than this are rejected")
    max_record_bytes: int = Field(
        8 * 1024 * 1024, gt=0, description="larger records are dead-lettered"
    )
    zone_layers: list[Path] = Field(
        default_factory=list,
        description="walkable-area/zone layers (GeoJSON, GeoPackage, Shapefile), added to the "
        "packaged one",
    )
    default_zones: bool = Field(True, description="load the packaged Chancheng zone layer")
    los: dict[str, Any] = Field(
        default_factory=dict,
        description="LOS bands overriding the defaults (see docs/risk-model.md), e.g. "
        "{walkway = {limits = [0.31, 0.43, 0.72, 1.08, 2.15]}}",
    )
    incident_radius_k: int = Field(
        2, ge=0, le=10, description="signals within this many H3 steps fuse into one incident"
    )
    incident_reopen_s: int = Field(
        600, ge=0, description="a resolved/expired alert is re-opened by new signals within this, s"
    )
    alert_expire_after_s: int = Field(
        120, ge=0, description="an alert nobody acknowledged expires when clear this long, s"
    )
    alert_stale_after_s: int = Field(
        86_400, ge=0, description="an acknowledged alert expires when clear this long unresolved, s"
    )
    alert_review_from: Literal["info", "warning", "critical", "none"] = Field(
        "critical",
        description="alerts of this severity and above (and every escalated one) never expire:"
        " a person resolves them ('none': any may expire)",
    )
    alert_remind_every_s: int = Field(
        300, ge=0, description="an unacknowledged alert held for review sounds again this often, s"
    )
    geocode_max_uncertainty_m: float = Field(
        500.0, gt=0, description="geocoded tickets vaguer than this are not clustered, m"
    )

    @field_validator("los")
    @classmethod
    def _los_bands(cls, v: dict[str, Any]) -> dict[str, Any]:
        LosConfig.from_mapping(v)  # raises with the offending key
        return v


class RulesSettings(BaseModel):
    """Where the rule files are and how changes reach the workers (docs/rules.md)."""

    path: Path | None = Field(
        None, description="rule file or directory of *.yaml; unset: the packaged default set"
    )
    poll_interval_s: float = Field(
        1.0, gt=0, le=5, description="how often workers look for changed rule files, s"
    )
    check_time_s: float = Field(
        10.0,
        gt=0,
        le=120,
        description="wall-clock budget of checking one uploaded rule set (its own process), s",
    )
    check_memory_mib: int = Field(
        256, ge=64, le=4096, description="memory budget of that process (address space), MiB"
    )


class EmbeddedSettings(BaseModel):
    """Ports for ``citybrain up``; 0 picks a free port."""

    broker_port: int = Field(0, ge=0, le=65535)
    redis_port: int = Field(0, ge=0, le=65535)
    data_dir: Path = Field(Path(".citybrain"), description="worker state, logs, redis AOF")


class SimSettings(BaseModel):
    seed: int = 42
    cameras: int = Field(300, ge=1)
    sensors: int = Field(200, ge=0)
    camera_period_s: float = Field(5.0, gt=0, description="each camera reports this often")
    sensor_period_s: float = Field(30.0, gt=0)
    hotline_per_min: float = Field(6.0, ge=0, description="background tickets per minute")
    alarms_per_hour: float = Field(
        15.0, ge=0, description="sensor alarm episodes starting per hour, city-wide, at random"
    )
    grid_workers: int = Field(40, ge=0, description="grid workers (网格员) on patrol")
    worker_period_s: float = Field(
        30.0, gt=0, description="each grid worker reports its position this often while online"
    )
    incident_at_s: float = Field(
        30.0, ge=0, description="scripted incident starts this long after start"
    )
    speed: float = Field(1.0, gt=0, description="simulated seconds per wall second")
    batch_max: int = Field(500, ge=1, description="events per Kafka record at most")


class LayerFileSettings(BaseModel):
    """One user layer file (docs/layers.md); a bare path is accepted as ``{path = ...}``."""

    model_config = ConfigDict(extra="forbid")

    path: Path = Field(description="GeoJSON or GeoPackage file (one layer)")
    crs: CRS | None = Field(
        None,
        description="wgs84, gcj02 or bd09; default: the file's CRS, .gcj02./.bd09. in "
        "its name, else WGS-84",
    )
    kind: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$",
        description="building, enterprise, camera (counted by POST /api/query) or your own",
    )
    id: str | None = Field(
        None, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description="default: from the file name"
    )
    title: str | None = Field(None, max_length=200)
    geometry: Literal["point", "outline"] = Field(
        "point",
        description="point: indexed for POST /api/query; outline: polygons or lines drawn "
        "on the basemap (e.g. street / 街道 boundaries), not counted",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str | Path) else data


class LayersSettings(BaseModel):
    """Static map layers behind "draw a circle" (POST /api/query; docs/layers.md)."""

    paths: list[LayerFileSettings] = Field(
        default_factory=list,
        description="user layer files: paths, or tables {path, crs, kind, id, title, geometry}",
    )
    generated_dir: Path | None = Field(
        None, description="a directory written by 'citybrain sim layers' (with manifest.json)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CITYBRAIN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    kafka: KafkaSettings = KafkaSettings()
    redis: RedisSettings = RedisSettings()
    web: WebSettings = WebSettings()
    auth: AuthSettings = AuthSettings()
    privacy: PrivacySettings = PrivacySettings()
    pipeline: PipelineSettings = PipelineSettings()
    embedded: EmbeddedSettings = EmbeddedSettings()
    sim: SimSettings = SimSettings()
    rules: RulesSettings = RulesSettings()
    layers: LayersSettings = LayersSettings()
    worker_id: str = Field("worker-1", description="Faust app instance name")
    worker_http_host: str = Field("127.0.0.1", description="worker /healthz, /readyz, /metrics")
    worker_http_port: int = Field(
        0, ge=0, le=65535, description="port of the worker's /healthz, /readyz, /metrics; 0: off"
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("CITYBRAIN_CONFIG")  # the one place a path is read
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def with_overrides(self, **updates: Any) -> Settings:
        """A copy with nested sections replaced; used by ``citybrain up`` and tests."""
        data = self.model_dump()
        for section, values in updates.items():
            if isinstance(values, dict):
                data[section] = {**data[section], **values}
            else:
                data[section] = values
        return Settings.model_validate(data)


def load_settings() -> Settings:
    """Read the settings once; raises ``pydantic.ValidationError`` with every problem listed."""
    return Settings()
