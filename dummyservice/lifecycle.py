"""The lifecycle: which status a run is in, and the single outcome that ends it.

Whatever ends the run first (a command, a timer, a signal, a failure) claims the outcome;
every later claim is refused, which is what makes "exactly one terminal event" hold.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.StrEnum):
    STARTING = "starting"
    STARTED = "started"
    LOADING = "loading"
    INTERRUPTED = "interrupted"
    FINISHED = "finished"
    ERROR = "error"


PUBLISHED_STATUSES = tuple(s for s in Status if s is not Status.STARTING)


class Outcome(enum.Enum):
    """How a run ended: the terminal event it publishes (if any) and the exit code."""

    FINISHED = ("finished", 0)
    INTERRUPTED = ("interrupted", 0)
    ERROR = ("error", 1)
    BAD_CONFIG = (None, 2)
    KAFKA_UNAVAILABLE = (None, 3)

    def __init__(self, event: str | None, exit_code: int) -> None:
        self.event = event
        self.exit_code = exit_code

    @property
    def status(self) -> Status:
        return Status(self.event) if self.event else Status.ERROR


@dataclass(frozen=True)
class Ending:
    outcome: Outcome
    message: str
    exit_code: int


class Lifecycle:
    """State of one run. Not thread-safe: use from the event loop only."""

    def __init__(self) -> None:
        self.status = Status.STARTING
        self.records_written = 0
        self.ending: Ending | None = None

    @property
    def ended(self) -> bool:
        return self.ending is not None

    def start(self) -> bool:
        """Move to ``started``; False if the run has already started or ended."""
        if self.status is not Status.STARTING or self.ended:
            return False
        self.status = Status.STARTED
        return True

    def record_loading(self, records: int) -> bool:
        """Count a loading tick; False (nothing counted) once the run has ended."""
        if self.ended or self.status is Status.STARTING:
            return False
        self.status = Status.LOADING
        self.records_written += records
        return True

    def record_settled(self, records: int) -> None:
        """Count records of a batch that completed while the run was ending: they were written."""
        self.records_written += records

    def end(self, outcome: Outcome, message: str, exit_code: int | None = None) -> Ending | None:
        """Claim the outcome of the run; None if something else already ended it.

        ``exit_code`` replaces the outcome's own code (a signal's configured exit code).
        """
        if self.ending is not None:
            return None
        code = outcome.exit_code if exit_code is None else exit_code
        self.ending = Ending(outcome, message, code)
        if outcome.event is not None:
            self.status = outcome.status
        return self.ending

    @property
    def exit_code(self) -> int | None:
        return self.ending.exit_code if self.ending else None
