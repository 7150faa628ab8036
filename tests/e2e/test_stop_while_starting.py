"""A web server whose Redis does not answer still stops on SIGTERM or SIGINT, within its
shutdown timeout: it waits for Redis (and says so), and an operator (or systemd, or
Kubernetes) must be able to stop it all the same."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from citybrain.stack import EmbeddedStack, free_port

pytestmark = [pytest.mark.e2e]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_web_server_waiting_for_its_dependencies_stops_on_a_signal(
    sig: signal.Signals, stack: EmbeddedStack, tmp_path: Path
) -> None:
    dead_redis = free_port()  # nothing listens there; the broker is the stack's
    env = {
        **os.environ,
        "CITYBRAIN_KAFKA__BROKERS": stack.live.kafka.brokers,
        "CITYBRAIN_REDIS__URL": f"redis://127.0.0.1:{dead_redis}/0",
        "CITYBRAIN_WEB__PORT": str(free_port()),
    }
    log = (tmp_path / "web.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "citybrain", "web"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        time.sleep(6)  # well into its retries
        assert proc.poll() is None, (tmp_path / "web.log").read_text()[-2000:]
        asked = time.monotonic()
        proc.send_signal(sig)
        code = proc.wait(timeout=30)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    text = (tmp_path / "web.log").read_text()
    assert took < 20, text[-2000:]
    assert code == 0, text[-2000:]
    assert "Traceback" not in text, text[-3000:]
