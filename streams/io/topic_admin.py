"""Create the project's topics on a broker (idempotent)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError

from citybrain.config.settings import Settings
from citybrain.config.topics import PARTITIONS, TOPICS, topic_configs

log = logging.getLogger(__name__)


async def started_admin(bootstrap: list[str] | str, attempts: int = 30) -> AIOKafkaAdminClient:
    """An admin client connected to ``bootstrap``, trying every 0.5 s ``attempts`` times (a
    broker that is still starting); the caller closes it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    for attempt in range(attempts):
        try:
            await admin.start()
            return admin
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    raise ValueError(f"attempts must be at least 1, not {attempts}")


async def create_topics(settings: Settings, attempts: int = 30) -> list[str]:
    """Create missing topics with ``kafka.partitions`` partitions and :func:`topic_configs`;
    returns those created. Topics that exist are left as they are (their settings too)."""
    k = settings.kafka
    admin = await started_admin(k.bootstrap_servers(), attempts)
    try:
        existing = set(await admin.list_topics())
        wanted = [k.topic(t) for t in TOPICS if k.topic(t) not in existing]
        if wanted:
            logical = {k.topic(t): t for t in TOPICS}
            configs = topic_configs(settings)
            await admin.create_topics(
                [
                    NewTopic(
                        t,
                        PARTITIONS.get(logical[t], k.partitions),
                        k.replication,
                        topic_configs=configs.get(logical[t], {}),
                    )
                    for t in wanted
                ]
            )
            log.info("created topics %s", ", ".join(wanted))
        return wanted
    finally:
        await admin.close()
