"""A bare aiokafka consumer that joins a consumer group the way the worker's does, then exits.

``python -m benchmarks.group_join`` (with the worker's environment) prints one JSON line
``{"import_ms": ..., "join_ms": ...}`` once it holds partitions of the control topic with
resolved positions: what the worker needs before it publishes `started`, without Faust.
"""

from __future__ import annotations

import time

STARTED = time.monotonic()

import asyncio  # noqa: E402  (the clock starts before the imports on purpose)
import json  # noqa: E402
import sys  # noqa: E402
import uuid  # noqa: E402

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition  # noqa: E402
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor  # noqa: E402

from dummyservice.kafka import resolve_security  # noqa: E402
from dummyservice.settings import load_settings  # noqa: E402

TIMEOUT = 60.0


class _Assigned(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self) -> None:
        self.partitions: asyncio.Future[set[TopicPartition]] = (
            asyncio.get_running_loop().create_future()
        )

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        pass

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if assigned and not self.partitions.done():
            self.partitions.set_result(set(assigned))


async def join() -> dict[str, float]:
    imported = time.monotonic()
    settings = load_settings()
    security = resolve_security(settings.kafka)
    # The group settings the Faust app passes to aiokafka (see dummyservice/app.py and
    # faust/transport/drivers/aiokafka.py); Faust's defaults where we set nothing.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=list(settings.kafka.bootstrap_servers),
        client_id="dummy-service-bench-join",
        group_id=f"dummy-service-bench.{uuid.uuid4().hex[:12]}",
        partition_assignment_strategy=[RoundRobinPartitionAssignor],
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
        max_poll_interval_ms=1_000_000,
        request_timeout_ms=90_000,
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=int(settings.heartbeat_interval * 1000),
        rebalance_timeout_ms=int(settings.rebalance_timeout * 1000),
        **security.aiokafka_kwargs(),
    )
    listener = _Assigned()
    consumer.subscribe([settings.control_topic], listener=listener)
    try:
        await consumer.start()  # the group is then joined in the background
        assigned = await asyncio.wait_for(listener.partitions, TIMEOUT)
        for partition in sorted(assigned):
            await consumer.position(partition)
        joined = time.monotonic()
        # Reported before leaving the group: the parent times the arrival of this line.
        result = {"import_ms": (imported - STARTED) * 1000, "join_ms": (joined - imported) * 1000}
        print(json.dumps(result), flush=True)
    finally:
        await consumer.stop()
    return result


def main() -> int:
    asyncio.run(join())
    return 0


if __name__ == "__main__":
    sys.exit(main())
