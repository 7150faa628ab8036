"""citybrain.cli.load: the options that name a deployment are checked before anything runs."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from citybrain.cli.load import parse_bootstrap, parse_pid, parse_web_url
from citybrain.cli.main import app


def test_web_url() -> None:
    assert parse_web_url("http://10.0.0.5:8080") == "http://10.0.0.5:8080/"
    assert parse_web_url("https://map.city.local/cb/") == "https://map.city.local/cb/"
    for bad in ("10.0.0.5:8080", "ftp://x/", "http://", "http://x:99999/", "http://x/?a=1"):
        with pytest.raises(ValueError):
            parse_web_url(bad)


def test_bootstrap() -> None:
    assert parse_bootstrap("kafka-1:9092") == "kafka://kafka-1:9092"
    assert parse_bootstrap("a:1, b:2") == "kafka://a:1;kafka://b:2"
    for bad in ("kafka-1", "kafka-1:", ":9092", "a:0", "a:70000", "a:1,"):
        with pytest.raises(ValueError):
            parse_bootstrap(bad)


def test_pid() -> None:
    assert parse_pid("worker=4242") == ("worker", 4242)
    for bad in ("4242", "=4242", "worker=", "worker=x"):
        with pytest.raises(ValueError):
            parse_pid(bad)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target-web", "http://127.0.0.1:9/"], "go together"),
        (["--worker-metrics", "http://127.0.0.1:9/metrics"], "need --target-web"),
        (["--rate", "0"], "--rate"),
        (["--batch", "500", "--cameras", "100"], "larger than --cameras"),
        (["--target-web", "nope", "--kafka", "a:1"], "http"),
        (["--target-web", "http://x/", "--kafka", "a"], "host:port"),
        (["--stalled", "-1"], "--stalled"),
        (["--stalled", "1", "--target-web", "https://x/", "--kafka", "a:1"], "http://"),
    ],
)
def test_bad_options_exit_2_before_starting_anything(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["load", *args])
    assert result.exit_code == 2
    assert message in result.output
