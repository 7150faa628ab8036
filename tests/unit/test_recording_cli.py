"""``citybrain record`` / ``citybrain replay``: wiring, option parsing and error paths.

The Kafka side runs in tests/e2e/test_record_replay.py against the real broker.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from citybrain.cli.main import app
from citybrain.cli.recording import parse_duration, parse_topics
from citybrain.stack import free_port
from feeds.recording.files import RecordedRecord, write_recording

runner = CliRunner()


def test_help_lists_both_commands_and_their_options() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "record" in result.output and "replay" in result.output
    record = runner.invoke(app, ["record", "--help"])
    assert record.exit_code == 0
    for option in ("--topics", "--duration", "--max-records", "--from-beginning", "--from-now"):
        assert option in record.output
    replay = runner.invoke(app, ["replay", "--help"])
    assert replay.exit_code == 0
    for option in ("--speed", "--fast", "--retime", "--keep-time", "--topics", "--skip-bad"):
        assert option in replay.output


def test_replay_of_a_missing_file_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a short path: the message box would wrap a long one
    result = runner.invoke(app, ["replay", "nowhere.jsonl"])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "nowhere.jsonl" in result.output


def test_replay_of_a_damaged_file_names_the_line_and_sends_nothing(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, [RecordedRecord("events.camera", 0, 0, 1, None, b"{}")])
    with path.open("ab") as f:
        f.write(b'{"topic": "events.camera"}\n')
    result = runner.invoke(app, ["replay", str(path)])
    assert result.exit_code == 1
    assert f"{path}:3:" in result.output.replace("\n", "")
    assert "--skip-bad" in result.output


def test_replay_of_an_empty_recording_is_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl.gz"
    write_recording(path, [], topics=["events.camera"])
    result = runner.invoke(app, ["replay", str(path), "--fast"])
    assert result.exit_code == 0, result.output
    assert "nothing to replay" in result.output


def test_replay_without_a_broker_exits_1_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, [RecordedRecord("events.camera", 0, 0, 1, None, b"{}")])
    env = {"CITYBRAIN_KAFKA__BROKERS": f"kafka://127.0.0.1:{free_port()}"}
    result = runner.invoke(app, ["replay", str(path), "--fast"], env=env)
    assert result.exit_code == 1
    assert "cannot reach the broker" in result.output


def test_record_refuses_to_replace_a_file_and_bad_options(tmp_path: Path) -> None:
    out = tmp_path / "r.jsonl"
    out.write_text("precious")
    result = runner.invoke(app, ["record", str(out)])
    assert result.exit_code == 2 and "--force" in result.output
    assert out.read_text() == "precious"
    result = runner.invoke(app, ["record", str(tmp_path / "new.jsonl"), "--duration", "soon"])
    assert result.exit_code == 2 and "duration" in result.output
    result = runner.invoke(app, ["record", str(tmp_path / "new.jsonl"), "--topics", " , "])
    assert result.exit_code == 2 and "no topic" in result.output
    assert not (tmp_path / "new.jsonl").exists()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("10m", 600.0), ("1h30m", 5400.0), ("1.5h", 5400.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "10x", "-5", "0s", "1h-2m"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_parse_topics_keeps_order_and_drops_blanks() -> None:
    assert parse_topics("events.camera, events.labels,,events.camera") == [
        "events.camera",
        "events.labels",
    ]
