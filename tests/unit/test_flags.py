"""Command-line flags: each one sets the variable the settings read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dummyservice.flags import FLAG_BY_VARIABLE, FLAGS, Flag, environment_from_args, parser
from dummyservice.settings import ConfigError, load_settings

README = Path(__file__).resolve().parents[2] / "README.md"
SWITCHES = [flag for flag in FLAGS if flag.metavar is None]
VALUED = [flag for flag in FLAGS if flag.metavar is not None]
BASE = {"QUEUE_ID": "queue-7", "POD_NAME": "pod-7", "KAFKA_TOPIC": "candles"}


def by_name(flags: list[Flag]) -> list:
    return [pytest.param(flag, id=flag.name) for flag in flags]


def readme_flag_table() -> dict[str, tuple[str, bool]]:
    """Flag → (variable, takes a value) as the README's lifecycle flags table lists them."""
    rows = re.findall(
        r"^\| `(--[a-z-]+)( [A-Z]+)?` \| `([A-Z_]+)(?:=[A-Z]+)?` \|",
        README.read_text(),
        flags=re.MULTILINE,
    )
    return {name: (variable, bool(metavar)) for name, metavar, variable in rows}


def test_the_readme_documents_every_flag_with_its_variable() -> None:
    assert readme_flag_table() == {
        flag.name: (flag.variable, flag.metavar is not None) for flag in FLAGS
    }


def test_flag_names_and_variables_are_unique() -> None:
    assert len({flag.name for flag in FLAGS}) == len(FLAGS)
    assert {flag.variable: flag.name for flag in FLAGS} == FLAG_BY_VARIABLE
    assert len(FLAG_BY_VARIABLE) == len(FLAGS)


def test_no_flags_set_no_variables() -> None:
    assert environment_from_args([]) == {}


@pytest.mark.parametrize("flag", by_name(SWITCHES))
def test_a_switch_sets_its_variable(flag: Flag) -> None:
    assert environment_from_args([flag.name]) == {flag.variable: flag.switch_value}


def test_debug_sets_the_debug_log_level() -> None:
    assert environment_from_args(["--debug"]) == {"LOG_LEVEL": "DEBUG"}


@pytest.mark.parametrize("flag", by_name(VALUED))
def test_a_flag_with_a_value_passes_it_on_unchanged(flag: Flag) -> None:
    assert environment_from_args([flag.name, " 42 "]) == {flag.variable: " 42 "}


def test_flags_combine() -> None:
    assert environment_from_args(["--simulate-loading", "--exit-after", "30"]) == {
        "DUMMY_SIMULATE_LOADING": "true",
        "DUMMY_EXIT_AFTER": "30",
    }


@pytest.mark.parametrize(
    "argv", [["--no-such-flag"], ["--exit-after"], ["extra"]], ids=["unknown", "no-value", "arg"]
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        environment_from_args(argv)

    assert caught.value.code == 2
    assert capsys.readouterr().out == ""


def test_help_names_every_variable_and_the_given_program() -> None:
    text = parser("dummy-service run").format_help()

    assert text.startswith("usage: dummy-service run")
    for flag in FLAGS:
        assert f"[{flag.variable}]" in text


@pytest.mark.parametrize("flag", by_name(SWITCHES))
def test_the_value_a_switch_sets_is_accepted_by_the_settings(flag: Flag) -> None:
    load_settings({**BASE, **environment_from_args([flag.name])})


@pytest.mark.parametrize("flag", by_name(FLAGS))
def test_a_wrong_flag_value_is_reported_against_its_variable(flag: Flag) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings({**BASE, flag.variable: "lots"})

    assert caught.value.variable == flag.variable
    assert FLAG_BY_VARIABLE[caught.value.variable] == flag.name
