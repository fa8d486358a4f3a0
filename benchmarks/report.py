"""Results: one row per measure with its baseline, as a plain-text table or JSON (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_FORMATS = {"ms": "{:.1f}", "s": "{:.2f}", "MiB": "{:.1f}"}


@dataclass(frozen=True)
class Row:
    """A measured value next to the baseline it should be read against."""

    name: str
    value: float
    baseline: float
    baseline_name: str
    unit: str

    @property
    def difference(self) -> float:
        return self.value - self.baseline

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "value": round(self.value, 3),
            "baseline": round(self.baseline, 3),
            "baseline_name": self.baseline_name,
            "difference": round(self.difference, 3),
        }


@dataclass
class Section:
    key: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "rows": [row.as_dict() for row in self.rows],
            "notes": self.notes,
            "details": self.details,
        }


def table(section: Section) -> str:
    """The section as an aligned text table, notes below it."""
    header = ("measure", "value", "baseline", "difference", "baseline is")
    cells = [header] + [
        (
            row.name,
            _number(row.value, row.unit),
            _number(row.baseline, row.unit),
            _number(row.difference, row.unit, signed=True),
            row.baseline_name,
        )
        for row in section.rows
    ]
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    lines = [section.title, "-" * len(section.title)]
    for line in cells:
        name, *numbers, baseline_name = line
        lines.append(
            "  ".join(
                [name.ljust(widths[0])]
                + [text.rjust(widths[i + 1]) for i, text in enumerate(numbers)]
                + [baseline_name]
            ).rstrip()
        )
    lines.extend(f"  * {note}" for note in section.notes)
    return "\n".join(lines)


def context_lines(context: dict[str, Any]) -> str:
    width = max(len(key) for key in context)
    return "\n".join(f"{key.ljust(width)}  {value}" for key, value in context.items())


def _number(value: float, unit: str, *, signed: bool = False) -> str:
    text = _FORMATS.get(unit, "{:.3g}").format(value)
    if signed and value >= 0:
        text = "+" + text
    return f"{text} {unit}"
