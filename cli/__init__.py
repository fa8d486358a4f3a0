"""The ``dummy-service`` command line: run the worker and talk to running workers."""
