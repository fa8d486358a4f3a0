"""dummy-service: a stand-in Kafka pipeline worker for testing everything around one."""

__version__ = "0.1.0"
