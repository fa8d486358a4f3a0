"""How benchmark results are printed: aligned rows next to their baselines (pure)."""

from __future__ import annotations

from benchmarks.__main__ import parse_args
from benchmarks.report import Row, Section, table


def section() -> Section:
    return Section(
        "latency",
        "Ping round trip",
        rows=[
            Row("ping rtt p50", 11.94, 12.0, "broker echo", "ms"),
            Row("import dummyservice.app", 0.331, 0.02, "python -c pass", "s"),
        ],
        notes=["a note"],
    )


def test_a_row_reports_its_difference_from_the_baseline():
    row = Row("rss", 55.25, 54.25, "imports only", "MiB")
    assert row.difference == 1.0
    assert row.as_dict() == {
        "name": "rss",
        "unit": "MiB",
        "value": 55.25,
        "baseline": 54.25,
        "baseline_name": "imports only",
        "difference": 1.0,
    }


def test_the_table_prints_value_baseline_and_signed_difference_in_the_unit():
    lines = table(section()).splitlines()
    assert lines[0] == "Ping round trip"
    assert set(lines[1]) == {"-"}
    assert " ".join(lines[3].split()) == "ping rtt p50 11.9 ms 12.0 ms -0.1 ms broker echo"
    assert "+0.31 s" in lines[4]
    assert lines[-1] == "  * a note"


def test_the_last_column_starts_at_the_same_place_on_every_line():
    header, *rows = table(section()).splitlines()[2:4]
    column = header.index("baseline is")
    assert [row[column:] for row in rows] == ["broker echo"]
    assert table(section()).splitlines()[4][column:] == "python -c pass"


def test_quick_is_a_small_smoke_run():
    args = parse_args(["--quick"])
    assert (args.pings, args.runs, args.loading_seconds) == (20, 1, 3.0)
