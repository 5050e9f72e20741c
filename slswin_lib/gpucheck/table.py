"""The device check's one table: its rows, how a row that fails is recorded, and its JSON and Markdown.

A row is a stage checked end to end (``check``), a rate measured (``speed``) or hours projected from
the rates (``projection``). :meth:`Table.attempt` runs one row's work: a device out of memory or any
other error becomes a failed row with one line saying what was asked, what happened and what to do
(printed at once, the traceback kept in the JSON only), and the check goes on with the next row. The
table is written after every row, so a run stopped at its time limit still leaves what it measured.
"""
from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

__all__ = ["Row", "Table", "GiB"]

GiB = 2 ** 30
#: columns of the printed and Markdown table
COLUMNS = ("part", "what", "result", "peak device memory", "note")


@dataclass
class Row:
    """One line of the table.

    Attributes:
        part: ``"check"``, ``"speed"`` or ``"projection"``.
        what: the stage or measurement, with its settings (device, dtype, batch, ...).
        result: in words (e.g. ``"ok: 450 pairs"``, ``"1,234.5 samples/s"``).
        value, unit: the number behind ``result`` (None where there is none).
        peak_memory: peak bytes of device memory allocated by torch during the row (CUDA only).
        note: what the number means or where it comes from.
        status: ``"ok"``, ``"failed"`` or ``"skipped"``.
        seconds: wall seconds the row took.
        facts: further numbers for the JSON (e.g. compile seconds, agreement with the CPU).
        error: the traceback of a failed row (JSON only).
    """

    part: str
    what: str
    result: str = ""
    value: float | None = None
    unit: str = ""
    peak_memory: int | None = None
    note: str = ""
    status: str = "ok"
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def cells(self) -> list[str]:
        memory = "" if self.peak_memory is None else f"{self.peak_memory / GiB:.2f} GiB"
        return [self.part, self.what, self.result, memory, self.note]


def _one_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


class Table:
    """The rows of one check, written to ``out/gpu_check.json`` and ``out/gpu_check.md`` after each row.

    Args:
        out: the output folder (None: nothing written).
        header: facts of the run (device, card, torch, sizes, ...) stored with the rows.
        device: the torch device rows run on (its peak memory is read on CUDA).
        echo: print one line a row as it is done (what a run stopped at its time limit has shown).
    """

    def __init__(self, out: Path | None, header: dict[str, Any], device, echo: bool = False) -> None:
        self.out, self.header, self.device, self.echo = out, header, device, echo
        self.rows: list[Row] = []

    def attempt(self, part: str, what: str, work: Callable[[], Row | dict], *, fix: str = "") -> Row:
        """Run ``work`` (returning the row's fields) as one row; a failure becomes a failed row.

        Args:
            fix: what to do when it fails (appended to the printed line).
        """
        import torch

        cuda = self.device.type == "cuda"
        t0 = time.perf_counter()
        try:
            if cuda:   # inside the try: an error a CUDA kernel left behind fails this row, not the check
                torch.cuda.synchronize(self.device)
                torch.cuda.reset_peak_memory_stats(self.device)
            got = work()
            if cuda:
                torch.cuda.synchronize(self.device)
            row = got if isinstance(got, Row) else Row(part, what, **got)
            if row.status == "skipped" and not self.echo:
                print(f"gpu-check: {what}: {row.result}", file=sys.stderr)
        except torch.OutOfMemoryError as exc:
            free, total = torch.cuda.mem_get_info(self.device) if cuda else (0, 0)
            row = Row(part, what, status="failed", error=traceback.format_exc(),
                      result=f"out of device memory ({free / GiB:.1f} of {total / GiB:.1f} GiB free)")
            print(f"gpu-check: {what}: out of device memory ({_one_line(exc)[:160]}); {free / GiB:.1f} of "
                  f"{total / GiB:.1f} GiB free on {self.header.get('card', self.device)}; the other rows go on; "
                  f"{fix or 'lower its batch size'}", file=sys.stderr)
        except Exception as exc:   # a check reports every stage it can, each failure on its own row
            row = Row(part, what, status="failed", result=f"failed: {_one_line(exc)[:200]}",
                      error=traceback.format_exc())
            print(f"gpu-check: {what} failed: {_one_line(exc)[:300]}; the other rows go on"
                  + (f"; {fix}" if fix else ""), file=sys.stderr)
        row.part, row.what = part, what
        row.seconds = time.perf_counter() - t0
        if cuda:
            row.peak_memory = int(torch.cuda.max_memory_allocated(self.device))
            with contextlib.suppress(RuntimeError):   # a device in an error state keeps its cache
                torch.cuda.empty_cache()
        return self._add(row)

    def skip(self, part: str, what: str, why: str) -> Row:
        """Record a row that was not run, and why."""
        return self._add(Row(part, what, result=f"skipped: {why}", status="skipped"))

    def _add(self, row: Row) -> Row:
        self.rows.append(row)
        self.write()
        if self.echo:
            print(f"[gpu-check] {row.seconds:6.1f} s  {row.status:7}  {row.what}: {row.result}", flush=True)
        return row

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.status == "failed"]

    def markdown(self) -> str:
        """The table as GitHub Markdown, with the run's facts above it."""
        h = self.header
        lines = [f"device: {h.get('card', h.get('device'))}; torch {h.get('torch')}; {h.get('cpus')} CPU cores; "
                 f"sizes: {h.get('size_name')}; {h.get('seconds', 0):.0f} s" + (f"; {h['note']}" if h.get("note") else ""),
                 "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        for row in self.rows:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
        return "\n".join(lines) + "\n"

    def as_dict(self) -> dict[str, Any]:
        return {**self.header, "rows": [dataclasses.asdict(r) for r in self.rows],
                "failed": [r.what for r in self.failed]}

    def write(self) -> None:
        """Write ``gpu_check.json`` and ``gpu_check.md`` into the output folder (atomically)."""
        if self.out is None:
            return
        from ..io import atomic_write_json, atomic_write_text

        atomic_write_json(self.out / "gpu_check.json", self.as_dict())
        atomic_write_text(self.out / "gpu_check.md", self.markdown())
