"""One settings object from env vars and/or a TOML file, validated."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from citybrain.config.settings import Settings, load_settings
from citybrain.config.topics import TOPICS, topic_configs
from citybrain.stack import settings_env


def test_env_and_toml_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "citybrain.toml"
    config.write_text(
        '[kafka]\nbrokers = "kafka://k1:9092"\ntopic_prefix = "cb."\n'
        "[pipeline]\nh3_resolution = 8\n"
    )
    monkeypatch.setenv("CITYBRAIN_CONFIG", str(config))
    monkeypatch.setenv("CITYBRAIN_REDIS__URL", "redis://:hunter2@r:6379/1")
    monkeypatch.setenv("CITYBRAIN_PIPELINE__H3_RESOLUTION", "10")  # env wins over the file
    s = load_settings()
    assert s.kafka.bootstrap_servers() == ["k1:9092"]
    assert s.kafka.topic("alerts") == "cb.alerts"
    assert s.pipeline.h3_resolution == 10
    assert s.redis.url.get_secret_value() == "redis://:hunter2@r:6379/1"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_invalid_settings_name_the_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYBRAIN_KAFKA__BROKERS", "k1:9092")
    monkeypatch.setenv("CITYBRAIN_PIPELINE__H3_RESOLUTION", "16")
    with pytest.raises(ValidationError) as err:
        load_settings()
    text = str(err.value)
    assert "kafka.brokers" in text and "needs a scheme" in text
    assert "pipeline.h3_resolution" in text


def test_children_receive_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings().with_overrides(kafka={"brokers": "kafka://127.0.0.1:1234"}, web={"port": 9})
    for key, value in settings_env(s).items():
        monkeypatch.setenv(key, value)
    assert load_settings() == s


def test_unmasked_ticket_text_is_kept_as_long_as_the_privacy_setting_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYBRAIN_PRIVACY__TICKET_TEXT_S", "3600")
    s = load_settings()
    assert s.privacy.ticket_text_s == 3600 and s.privacy.view_audit_s == 365 * 86_400
    assert "hotline.private" in TOPICS
    assert topic_configs(s) == {"hotline.private": {"retention.ms": "3600000"}}
    monkeypatch.setenv("CITYBRAIN_PRIVACY__VIEW_AUDIT_S", "0")
    with pytest.raises(ValidationError, match=r"privacy\.view_audit_s"):
        load_settings()
