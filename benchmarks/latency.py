"""Ping round trip through a real worker, against a bare aiokafka echo through the same broker.

Both sides are sequential (one message in flight) and timed on this process's monotonic clock:
the ping with the CLI's own ``ControlClient``, the echo with aiokafka clients configured like it.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from cli.client import ControlClient
from cli.report import one_way_ms

from .common import Context, Spawned, distribution, spawn_worker, wait_for_event, wait_started
from .report import Row, Section

WARM_UP = 5
REPLY_TIMEOUT = 10.0
ECHO_TOPIC = "dummy-service-bench-echo"


async def ping_many(client: ControlClient, worker: Spawned, count: int) -> list[dict[str, float]]:
    """``count`` pings one after another; each one's round trip and service-side time in ms."""
    queue_id = worker.env["QUEUE_ID"]
    results = []
    for _ in range(count):
        correlation_id = uuid.uuid4().hex
        sent = time.monotonic()
        await client.send(queue_id, "ping", {"correlation_id": correlation_id})
        pong = await wait_for_event(
            client,
            lambda e, cid=correlation_id: (
                e.get("correlation_id") == cid  # type: ignore[misc]
                and e.get("event") == "pong"
            ),
            REPLY_TIMEOUT,
            f"pong from queue {queue_id}",
            worker,
        )
        one_way = one_way_ms(pong.event)
        results.append({"rtt_ms": (pong.at - sent) * 1000, "one_way_ms": one_way or 0.0})
    return results


async def broker_echo(ctx: Context, count: int) -> list[float]:
    """Round trips of ``count`` records produced and consumed back, without the service."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

    connection = ctx.connection
    common: dict[str, Any] = {
        "bootstrap_servers": list(connection.kafka.bootstrap_servers),
        "client_id": "dummy-service-bench",
        **connection.security.aiokafka_kwargs(),
    }
    # The same client settings as cli/client.py: no group, latest, the CLI's fetch wait.
    producer = AIOKafkaProducer(**common, linger_ms=0)
    consumer = AIOKafkaConsumer(
        **common,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_max_wait_ms=connection.fetch_max_wait_ms,
    )
    partition = TopicPartition(ECHO_TOPIC, 0)
    rtts = []
    try:
        await producer.start()
        await consumer.start()
        await producer.partitions_for(ECHO_TOPIC)  # lets a broker with auto-creation create it
        consumer.assign([partition])
        await consumer.seek_to_end(partition)
        await consumer.position(partition)
        for _ in range(WARM_UP + count):
            payload = uuid.uuid4().bytes
            sent = time.monotonic()
            await producer.send_and_wait(ECHO_TOPIC, payload, partition=0)
            deadline = sent + REPLY_TIMEOUT
            while time.monotonic() < deadline:
                batches = await consumer.getmany(partition, timeout_ms=250)
                if any(r.value == payload for r in batches.get(partition, [])):
                    rtts.append((time.monotonic() - sent) * 1000)
                    break
            else:
                raise TimeoutError(f"an echo on {ECHO_TOPIC} did not come back within 10 s")
    finally:
        await consumer.stop()
        await producer.stop()
    return rtts[WARM_UP:]


async def service_pings(ctx: Context, count: int) -> list[dict[str, float]]:
    """Start one worker, wait for `started`, then time ``count`` pings (after a warm-up)."""
    async with ctx.connection.client() as client:
        worker = spawn_worker(ctx, "latency")
        try:
            await wait_started(client, worker)
            await ping_many(client, worker, WARM_UP)
            return await ping_many(client, worker, count)
        finally:
            await worker.stop()


async def run(ctx: Context, pings: int) -> Section:
    echo = distribution(await broker_echo(ctx, pings))
    results = await service_pings(ctx, pings)
    ping = distribution([r["rtt_ms"] for r in results])
    one_way = distribution([r["one_way_ms"] for r in results])

    title = f"Ping round trip: {pings} sequential pings after {WARM_UP} warm-up"
    section = Section("latency", title)
    baseline = "broker echo: aiokafka produce -> consume, 1 hop"
    for stat in ("p50", "p95", "p99", "max", "mean"):
        section.rows.append(Row(f"ping rtt {stat}", ping[stat], echo[stat], baseline, "ms"))
    section.notes = [
        f"service overhead (p50 ping - p50 echo): {ping['p50'] - echo['p50']:+.1f} ms",
        "a ping crosses the broker twice (command -> worker, pong -> client), the echo once;"
        f" fetch wait: client {ctx.connection.fetch_max_wait_ms} ms,"
        f" worker {ctx.env.get('KAFKA_FETCH_MAX_WAIT_MS', '500')} ms",
        f"service-side time (ponged_at - sent_at, two clocks): p50 {one_way['p50']:.1f} ms,"
        f" p99 {one_way['p99']:.1f} ms",
    ]
    section.details = {
        "pings": pings,
        "ping_rtt_ms": ping,
        "echo_rtt_ms": echo,
        "one_way_ms": one_way,
        "overhead_p50_ms": ping["p50"] - echo["p50"],
        "client_fetch_max_wait_ms": ctx.connection.fetch_max_wait_ms,
    }
    return section
