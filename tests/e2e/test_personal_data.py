"""End to end: citizens' phone and ID numbers in hotline tickets stay masked on everything
the map and the output topics carry; only a liaison of the ticket's channel (or an admin)
reads the full text, and every such reading is in the view audit.

Real stack: tickets through Kafka make a hotline cluster alert; the alert reaches a
websocket client and GET /api/alerts masked; GET /api/tickets/{id} is role-checked; a bad
ticket's dead letter is redacted; neither the worker's nor the web server's log holds the
numbers.
"""

from __future__ import annotations

import asyncio
import time

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from tests.e2e.kit import AlertWatch, http, signals, wait_for

pytestmark = [pytest.mark.e2e]
HERE = (23.03, 113.03)  # west Chancheng, > 4 km from every other test's spot
CATEGORY = "privacy-e2e"  # no other test or the simulator uses it
PHONE, MASKED_PHONE = "15800006021", "158****6021"
ID_NUMBER = "44060419850203602X"
TEXT = f"小区门口有人持续吵闹，请回电{PHONE}，报警人身份证{ID_NUMBER}"


def tokens(stack: EmbeddedStack) -> dict[str, str]:
    return {name: path.read_text().strip() for name, path in stack.token_files.items()}


async def produce(settings: Settings, events: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
    await producer.start()
    try:
        topic = settings.kafka.topic("events.hotline")
        await producer.send_and_wait(topic, orjson.dumps(events))
    finally:
        await producer.stop()


async def dead_letter_of(settings: Settings, event_id: str, within_s: float) -> dict:
    """The dead letter whose original names ``event_id``, read from the topic's start."""
    consumer = AIOKafkaConsumer(
        settings.kafka.topic("events.deadletter"),
        bootstrap_servers=settings.kafka.bootstrap_servers(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for record in (r for rs in batches.values() for r in rs):
                letter = orjson.loads(record.value)
                if event_id in (letter.get("original") or ""):
                    return dict(letter)
        raise AssertionError(f"no dead letter of {event_id} within {within_s} s")
    finally:
        await consumer.stop()


def test_ticket_numbers_are_masked_and_full_text_is_role_checked_and_audited(
    stack: EmbeddedStack,
) -> None:
    s = stack.live
    api = f"http://127.0.0.1:{s.web.port}/api/"
    tok = tokens(stack)
    run = int(time.time() * 1000)
    tickets = [
        {
            "id": f"pii-{i}-{run}",
            "ts": run + i,
            "channel": "12345",
            "category": CATEGORY,
            "text": TEXT,
            "lat": HERE[0] + (i % 2) * 0.0004,
            "lon": HERE[1],
            "caller": PHONE,
        }
        for i in range(6)
    ]
    bad = {**tickets[0], "id": f"pii-bad-{run}", "channel": "999"}

    def cluster(alert: dict) -> dict | None:
        found = [x for x in signals(alert, "hotline.cluster") if x.get("category") == CATEGORY]
        return found[0] if found else None

    async def scenario() -> dict:
        async with AlertWatch(f"ws://127.0.0.1:{s.web.port}/ws") as watch:
            await produce(s, [*tickets, bad])
            (alert,) = await watch.wait(
                lambda alerts: [a for a in alerts if (cluster(a) or {}).get("count") == 6],
                40,
                "hotline cluster alert of the six tickets",
            )
            return alert

    alert = asyncio.run(scenario())
    aid = alert["id"]

    # masked wherever the map reads: the websocket message, the alert list, the alert
    status, listed = http("GET", f"{api}alerts")
    assert status == 200
    status, one = http("GET", f"{api}alerts/{aid}")
    assert status == 200
    for seen in (alert, listed, one["alert"]):
        wire = orjson.dumps(seen).decode()
        assert PHONE not in wire and ID_NUMBER not in wire and ID_NUMBER[:14] not in wire
    shown = cluster(one["alert"])
    assert shown is not None
    assert {t["text"] for t in shown["tickets"]} == {
        f"小区门口有人持续吵闹，请回电{MASKED_PHONE}，报警人身份证**************602X"
    }
    assert {t["caller"] for t in shown["tickets"]} == {MASKED_PHONE}

    # the full text: a liaison of the ticket's channel reads it (once it reached the web server)
    ticket_url = f"{api}tickets/{tickets[0]['id']}?alert={aid}"
    status, body = wait_for(
        lambda: (r := http("GET", ticket_url, tok["liaison-12345"]))[0] != 404 and r,
        20,
        "unmasked ticket text on the web server",
    )
    assert status == 200 and body["ticket"]["text"] == TEXT
    assert body["ticket"]["channel"] == "12345" and body["ticket"]["ts"] == run
    # nobody else: another desk's liaison, a dispatcher, an engineer, the anonymous viewer
    for who, expected in [("liaison-110", 403), ("dispatcher", 403), ("engineer", 403)]:
        status, body = http("GET", ticket_url, tok[who])
        assert status == expected and TEXT not in str(body), who
    status, body = http("GET", ticket_url)
    assert status == 401 and TEXT not in str(body)

    # the view audit: the one reading, who and for which alert; engineers may list it
    status, audit = http("GET", f"{api}audit/views?limit=100", tok["engineer"])
    assert status == 200
    mine = [v for v in audit["views"] if v["ticket"] == tickets[0]["id"]]
    assert [(v["by"], v["role"], v["channel"], v["alert"]) for v in mine] == [
        ("liaison-12345", "liaison", "12345", aid)
    ]
    assert http("GET", f"{api}audit/views", tok["dispatcher"])[0] == 403
    assert http("GET", f"{api}audit/views")[0] == 401

    # the dead letter of the bad ticket, on a Kafka output topic: redacted
    letter = asyncio.run(dead_letter_of(s, bad["id"], 20))
    assert letter["redacted"] is True and letter["error"] == "validation"
    assert PHONE not in str(letter) and ID_NUMBER not in str(letter)
    assert MASKED_PHONE in letter["original"]

    # the logs of the worker and the web server never held the numbers
    for name in ("worker", "web"):
        log = (stack.run_dir / "logs" / f"{name}.log").read_text(errors="replace")
        assert PHONE not in log and ID_NUMBER not in log, name
