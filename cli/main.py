"""The ``dummy-service`` command line: run the worker, and talk to running workers over Kafka."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from . import actions
from .actions import Printer
from .runner import connection_from_env, finish, parse_fields, usage_error

EXIT_CODES = (
    "Exit codes: 0 every expected reply arrived; 1 replies missing (timeout) or the command "
    "was rejected; 2 usage or configuration error; 3 cannot connect to or authenticate with Kafka; "
    "130 interrupted by Ctrl-C."
)
KAFKA_HELP = (
    "Kafka is reached with the service's variables: KAFKA_BOOTSTRAP_SERVERS, KAFKA_USER, "
    "KAFKA_PASSWORD, KAFKA_CA_PATH (or CA_PATH), KAFKA_SASL_MECHANISM, KAFKA_SECURITY_PROTOCOL."
)

app = typer.Typer(
    help=f"Run the dummy-service worker and send it debug commands. {KAFKA_HELP} {EXIT_CODES}",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)


class Output(StrEnum):
    text = "text"
    json = "json"


QueueId = Annotated[
    str,
    typer.Option(
        "--queue-id", "-q", envvar="QUEUE_ID", help="The queue id; '*' or 'all' for every one."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        min=0.001,
        help="Seconds to wait for the replies, from each send (a real deadline, also on a "
        "silent topic); connecting is bounded by --connect-timeout.",
    ),
]
OutputOption = Annotated[
    Output, typer.Option("--output", "-o", help="text, or json: one JSON object per line.")
]
Bootstrap = Annotated[
    str | None,
    typer.Option(help="host:port[,host:port…]; overrides KAFKA_BOOTSTRAP_SERVERS."),
]
ConnectTimeout = Annotated[
    float,
    typer.Option(min=0.1, help="Seconds to wait for Kafka to accept the connection."),
]
Expect = Annotated[
    int | None,
    typer.Option(
        min=1,
        help="Replies to wait for per command; default 1, or every reply until the timeout "
        "for '*'/'all'.",
    ),
]
ControlTopic = Annotated[str, typer.Option(envvar="QUEUE_CONTROL_TOPIC", help="Command topic.")]
EventsTopic = Annotated[str, typer.Option(envvar="QUEUE_EVENTS_TOPIC", help="Events topic.")]


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def run(ctx: typer.Context) -> None:
    """Start the worker; takes the same flags as `python -m dummyservice` (see --help)."""
    from dummyservice.__main__ import main as run_worker

    run_worker(ctx.args, prog="dummy-service run")


@app.command(epilog=EXIT_CODES)
def ping(
    queue_id: QueueId,
    count: Annotated[int, typer.Option("--count", "-c", min=1, help="Pings to send.")] = 1,
    interval: Annotated[
        float, typer.Option("--interval", "-i", min=0, help="Seconds between pings.")
    ] = 1.0,
    timeout: Timeout = 10.0,
    delay_ms: Annotated[
        int | None, typer.Option(min=0, max=60000, help="Ask the service to hold each pong.")
    ] = None,
    expect: Expect = None,
    output: OutputOption = Output.text,
    bootstrap_servers: Bootstrap = None,
    connect_timeout: ConnectTimeout = 5.0,
    control_topic: ControlTopic = "queue-control",
    events_topic: EventsTopic = "queue-events",
) -> None:
    """Ping a queue and measure round trips on this machine's clock, like ping(8).

    Each reply line names the instance that answered and shows the round trip (send → pong
    received, on this host's monotonic clock) and the one-way time the service saw
    (ponged_at - sent_at, across two clocks). A summary follows.
    """
    connection = connection_from_env(
        bootstrap_servers, connect_timeout, control_topic, events_topic
    )
    coroutine = actions.ping(
        connection,
        Printer(output.value),
        queue_id,
        count=count,
        interval=interval,
        timeout=timeout,
        delay_ms=delay_ms,
        expect=expect,
    )
    finish(coroutine, output is Output.json)


@app.command(epilog=EXIT_CODES)
def stop(
    queue_id: QueueId,
    timeout: Timeout = 30.0,
    expect: Expect = None,
    output: OutputOption = Output.text,
    bootstrap_servers: Bootstrap = None,
    connect_timeout: ConnectTimeout = 5.0,
    control_topic: ControlTopic = "queue-control",
    events_topic: EventsTopic = "queue-events",
) -> None:
    """Stop a queue's worker and wait for its `interrupted` event."""
    connection = connection_from_env(
        bootstrap_servers, connect_timeout, control_topic, events_topic
    )
    coroutine = actions.request(
        connection,
        Printer(output.value),
        queue_id,
        "stop",
        answers={"interrupted"},
        timeout=timeout,
        expect=expect,
    )
    finish(coroutine, output is Output.json)


@app.command(epilog=EXIT_CODES)
def status(
    queue_id: QueueId,
    timeout: Timeout = 10.0,
    expect: Expect = None,
    output: OutputOption = Output.text,
    bootstrap_servers: Bootstrap = None,
    connect_timeout: ConnectTimeout = 5.0,
    control_topic: ControlTopic = "queue-control",
    events_topic: EventsTopic = "queue-events",
) -> None:
    """Print a queue's `status` reply: lifecycle status, uptime, records written, flags."""
    connection = connection_from_env(
        bootstrap_servers, connect_timeout, control_topic, events_topic
    )
    coroutine = actions.request(
        connection,
        Printer(output.value),
        queue_id,
        "status",
        answers={"status"},
        timeout=timeout,
        expect=expect,
    )
    finish(coroutine, output is Output.json)


@app.command(epilog=EXIT_CODES)
def send(
    queue_id: Annotated[
        str | None,
        typer.Option("--queue-id", "-q", envvar="QUEUE_ID", help="The queue id to address."),
    ] = None,
    command: Annotated[str | None, typer.Option(help="The command name, any string.")] = None,
    field: Annotated[
        list[str] | None,
        typer.Option(
            help="key=value to add; a value that parses as JSON is sent as that JSON "
            "(delay_ms=5 is a number, delay_ms='\"5\"' a string). Repeatable."
        ),
    ] = None,
    raw: Annotated[
        str | None,
        typer.Option(help="Send this text verbatim instead (no --command, nothing awaited)."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the events that answer it.")] = True,
    timeout: Timeout = 10.0,
    expect: Expect = None,
    output: OutputOption = Output.text,
    bootstrap_servers: Bootstrap = None,
    connect_timeout: ConnectTimeout = 5.0,
    control_topic: ControlTopic = "queue-control",
    events_topic: EventsTopic = "queue-events",
) -> None:
    """Send any command, valid or not, to test the service's validation.

    Prints every event that answers it (matched by correlation_id); exits 1 if the service
    rejected it or nothing answered.
    """
    connection = connection_from_env(
        bootstrap_servers, connect_timeout, control_topic, events_topic
    )
    printer = Printer(output.value)
    if raw is not None:
        if command is not None or field:
            usage_error("--raw sends the text as it is: leave out --command and --field")
        finish(actions.send_raw(connection, printer, raw.encode()), output is Output.json)
    if queue_id is None or command is None:
        usage_error("--queue-id (or QUEUE_ID) and --command are required, or use --raw")
    fields = parse_fields(field or [])
    if not wait:
        finish(
            actions.send_command(connection, printer, queue_id, command, fields=fields),
            output is Output.json,
        )
    coroutine = actions.request(
        connection,
        printer,
        queue_id,
        command,
        answers=None,
        timeout=timeout,
        expect=expect,
        fields=fields,
    )
    finish(coroutine, output is Output.json)


@app.command(
    epilog="Exit codes: 0 done; 1 fewer than --count events before --timeout; 2, 3 as ping."
)
def watch(
    queue_id: Annotated[
        str | None, typer.Option("--queue-id", "-q", help="Only this queue's events.")
    ] = None,
    event: Annotated[
        list[str] | None, typer.Option("--event", "-e", help="Only these events. Repeatable.")
    ] = None,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many events.")] = None,
    timeout: Annotated[
        float | None, typer.Option(min=0.001, help="Stop after this many seconds.")
    ] = None,
    output: OutputOption = Output.text,
    bootstrap_servers: Bootstrap = None,
    connect_timeout: ConnectTimeout = 5.0,
    events_topic: EventsTopic = "queue-events",
) -> None:
    """Print events from now on, one per line, until Ctrl-C, --count or --timeout."""
    connection = connection_from_env(
        bootstrap_servers, connect_timeout, "queue-control", events_topic
    )
    coroutine = actions.watch(
        connection,
        Printer(output.value),
        queue_id=queue_id,
        events=event or (),
        count=count,
        timeout=timeout,
    )
    finish(coroutine, output is Output.json, interrupt_code=0)


def main() -> None:
    app()
