"""Faust's aiokafka transport with the consumer's fetch wait made a setting.

Faust hard-codes ``fetch_max_wait_ms=1500``. Brokers that hold a Fetch for the whole wait
(the local test broker does) then add up to 1.5 s to every command, so the wait comes from
``KAFKA_FETCH_MAX_WAIT_MS`` instead.
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

FETCH_MAX_WAIT_MS_SETTING = "dummy_fetch_max_wait_ms"


class ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.app, FETCH_MAX_WAIT_MS_SETTING, None)
        if wait_ms is not None:
            # aiokafka reads this attribute when it builds its fetcher in start().
            consumer._fetch_max_wait_ms = wait_ms
        return consumer


class Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> ConsumerThread:
        return ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class Transport(faust_aiokafka.Transport):
    Consumer = Consumer
