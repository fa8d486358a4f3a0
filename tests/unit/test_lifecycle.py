"""Lifecycle statuses, outcomes and their exit codes, and the single outcome of a run."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dummyservice.lifecycle import PUBLISHED_STATUSES, Ending, Lifecycle, Outcome, Status


@pytest.mark.parametrize(
    ("outcome", "event", "exit_code", "status"),
    [
        (Outcome.FINISHED, "finished", 0, Status.FINISHED),
        (Outcome.INTERRUPTED, "interrupted", 0, Status.INTERRUPTED),
        (Outcome.ERROR, "error", 1, Status.ERROR),
        (Outcome.BAD_CONFIG, None, 2, Status.ERROR),
        (Outcome.KAFKA_UNAVAILABLE, None, 3, Status.ERROR),
    ],
)
def test_each_outcome_has_its_terminal_event_and_documented_exit_code(
    outcome: Outcome, event: str | None, exit_code: int, status: Status
) -> None:
    assert (outcome.event, outcome.exit_code, outcome.status) == (event, exit_code, status)


def test_published_statuses_are_those_of_the_contract() -> None:
    assert [str(s) for s in PUBLISHED_STATUSES] == [
        "started",
        "loading",
        "interrupted",
        "finished",
        "error",
    ]


def started() -> Lifecycle:
    lifecycle = Lifecycle()
    assert lifecycle.start()
    return lifecycle


def test_a_new_run_is_starting_with_nothing_written_and_no_exit_code() -> None:
    lifecycle = Lifecycle()

    assert lifecycle.status is Status.STARTING
    assert (lifecycle.ended, lifecycle.exit_code, lifecycle.records_written) == (False, None, 0)


def test_a_run_starts_only_once() -> None:
    lifecycle = started()

    assert lifecycle.status is Status.STARTED
    assert lifecycle.start() is False


def test_a_run_that_ended_during_start_up_never_starts() -> None:
    lifecycle = Lifecycle()
    lifecycle.end(Outcome.KAFKA_UNAVAILABLE, "Kafka unreachable")

    assert lifecycle.start() is False
    assert lifecycle.status is Status.STARTING


def test_loading_before_start_counts_nothing() -> None:
    lifecycle = Lifecycle()

    assert lifecycle.record_loading(100) is False
    assert (lifecycle.status, lifecycle.records_written) == (Status.STARTING, 0)


def test_loading_ticks_add_up_and_move_to_loading() -> None:
    lifecycle = started()

    assert lifecycle.record_loading(100)
    assert lifecycle.record_loading(50)
    assert (lifecycle.status, lifecycle.records_written) == (Status.LOADING, 150)


def test_loading_after_the_end_counts_nothing() -> None:
    lifecycle = started()
    lifecycle.record_loading(10)
    lifecycle.end(Outcome.FINISHED, "Done")

    assert lifecycle.record_loading(10) is False
    assert (lifecycle.status, lifecycle.records_written) == (Status.FINISHED, 10)


def test_an_ending_can_carry_its_own_exit_code() -> None:
    lifecycle = started()

    lifecycle.end(Outcome.INTERRUPTED, "Interrupted by SIGTERM", 143)

    assert (lifecycle.status, lifecycle.exit_code) == (Status.INTERRUPTED, 143)


def test_the_first_outcome_wins_and_later_ones_are_refused() -> None:
    lifecycle = started()

    first = lifecycle.end(Outcome.INTERRUPTED, "Stopped by a stop command")

    assert first == Ending(Outcome.INTERRUPTED, "Stopped by a stop command", 0)
    assert lifecycle.end(Outcome.ERROR, "Failed after 5 s") is None
    assert lifecycle.end(Outcome.INTERRUPTED, "again") is None
    assert lifecycle.ending is first
    assert (lifecycle.status, lifecycle.exit_code) == (Status.INTERRUPTED, 0)


@pytest.mark.parametrize("outcome", [Outcome.FINISHED, Outcome.INTERRUPTED, Outcome.ERROR])
def test_an_outcome_with_a_terminal_event_sets_its_status(outcome: Outcome) -> None:
    lifecycle = started()
    lifecycle.end(outcome, "m")

    assert lifecycle.status == outcome.event
    assert lifecycle.exit_code == outcome.exit_code


@pytest.mark.parametrize("outcome", [Outcome.BAD_CONFIG, Outcome.KAFKA_UNAVAILABLE])
def test_an_outcome_without_an_event_leaves_the_status_alone(outcome: Outcome) -> None:
    lifecycle = Lifecycle()
    lifecycle.end(outcome, "m")

    assert lifecycle.status is Status.STARTING
    assert lifecycle.exit_code == outcome.exit_code


operations = st.lists(
    st.one_of(
        st.tuples(st.just("start")),
        st.tuples(st.just("load"), st.integers(0, 1000)),
        st.tuples(st.just("end"), st.sampled_from(Outcome)),
    ),
    max_size=30,
)


@given(operations)
def test_whatever_happens_the_run_has_at_most_one_outcome_and_it_is_the_first(
    steps: list[tuple],
) -> None:
    lifecycle = Lifecycle()
    first_outcome: Outcome | None = None
    claims = 0
    has_started = False
    expected_records = 0

    for step in steps:
        if step[0] == "start":
            accepted = lifecycle.start()
            assert accepted is (not has_started and first_outcome is None)
            has_started = has_started or accepted
        elif step[0] == "load":
            accepted = lifecycle.record_loading(step[1])
            assert accepted is (has_started and first_outcome is None)
            expected_records += step[1] if accepted else 0
        else:
            ending = lifecycle.end(step[1], "m")
            claims += ending is not None
            first_outcome = first_outcome or step[1]

    assert claims == (1 if first_outcome else 0)
    assert lifecycle.records_written == expected_records
    if first_outcome is None:
        assert lifecycle.ending is None
        assert lifecycle.exit_code is None
    else:
        assert lifecycle.ending is not None
        assert lifecycle.ending.outcome is first_outcome
        assert lifecycle.exit_code == first_outcome.exit_code
        if first_outcome.event is not None:
            assert lifecycle.status == first_outcome.event
