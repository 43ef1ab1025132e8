"""The plan of an Earth Engine run before anything is spent (``PLAN_ONLY``, a dry run).

A plan lists, per time step and kind of output, what a run would ask of Earth Engine: interactive
requests (fetchgee downloads, one per tile) or batch tasks (exports), the pixels and bytes they produce,
the source pixels Earth Engine reads to compute them, and the training runs (server-side model fits).
It is written as a CSV table (one row per step and kind, then a ``total`` row) and shown as a text
table in the log. Building it sends no computation to Earth Engine (only the request reading SMAP's
grid from the asset, a metadata look-up). Nothing here imports ``ee``.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from .. import raster

COLUMNS = ("date", "kind", "unit", "count", "pixels", "bytes", "source_pixels", "training_runs")


@dataclass
class RunPlan:
    """Rows ``{date, kind, unit ('requests' or 'tasks'), count, pixels, bytes, source_pixels, training_runs}``."""

    algorithm: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    path: str = ""

    def add(self, date: str, kind: str, unit: str, count: int, pixels: int, nbytes: int, source_pixels: float,
            training_runs: int = 0) -> None:
        """Add one row: ``count`` requests or tasks (``unit``) of ``kind`` for ``date``, with the pixels, bytes,
        source pixels and training runs they carry.

        Parameters
        ----------
        date : str
            The step's first day, ISO (empty for a task not tied to a date).
        kind : str
            What the requests fetch or the tasks run ('smap', 'factors', 'classifier', 'soil_moisture').
        unit : str
            'requests' or 'tasks'.
        count : int
            How many.
        pixels : int
            Output pixels they carry.
        nbytes : int
            Bytes they carry.
        source_pixels : float
            Source pixels Earth Engine reads for them.
        training_runs : int
            Classifier trainings they run.
        """
        self.rows.append({"date": date, "kind": kind, "unit": unit, "count": int(count), "pixels": int(pixels),
                          "bytes": int(nbytes), "source_pixels": float(source_pixels),
                          "training_runs": int(training_runs)})

    @property
    def requests(self) -> int:
        """Interactive requests and batch tasks, all rows."""
        return sum(r["count"] for r in self.rows)

    @property
    def bytes(self) -> int:
        return sum(r["bytes"] for r in self.rows)

    @property
    def pixels(self) -> int:
        return sum(r["pixels"] for r in self.rows)

    @property
    def source_pixels(self) -> float:
        return sum(r["source_pixels"] for r in self.rows)

    @property
    def training_runs(self) -> int:
        return sum(r["training_runs"] for r in self.rows)

    def total(self) -> dict[str, Any]:
        """The total row (counts, pixels, bytes, source pixels and training runs summed).

        Returns
        -------
        dict[str, Any]
            A row with date 'total' and the units joined with '+'.
        """
        units = sorted({r["unit"] for r in self.rows})
        return {"date": "total", "kind": "", "unit": "+".join(units), "count": self.requests, "pixels": self.pixels,
                "bytes": self.bytes, "source_pixels": self.source_pixels, "training_runs": self.training_runs}

    def table(self) -> str:
        """The plan as a fixed-width text table (for the log).

        Returns
        -------
        str
            Header, rows, total and the plan's notes, one per line.
        """
        rows = [*self.rows, self.total()]
        cells = [list(COLUMNS)] + [[_fmt(r[c]) for c in COLUMNS] for r in rows]
        widths = [max(len(row[k]) for row in cells) for k in range(len(COLUMNS))]
        lines = ["  ".join(v.rjust(w) if k >= 3 else v.ljust(w) for k, (v, w) in enumerate(zip(row, widths)))
                 for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines.insert(len(lines) - 1, lines[1])
        return "\n".join(lines + [f"- {n}" for n in self.notes])

    def csv_text(self) -> str:
        """The plan as CSV text: the rows, then the total.

        Returns
        -------
        str
            CSV with a header line (source pixels rounded to integers).
        """
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        for row in [*self.rows, self.total()]:
            writer.writerow({k: (f"{v:.0f}" if k == "source_pixels" else v) for k, v in row.items()})
        return buf.getvalue()

    def write_csv(self, path: str) -> str:
        """Write the table (rows and the total) to ``path`` atomically; returns the path.

        Parameters
        ----------
        path : str
            The CSV file.

        Returns
        -------
        str
            ``path``.
        """
        raster.check_output_path(path)
        with raster.atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as fh:
            fh.write(self.csv_text())
        self.path = path
        return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


__all__ = ["RunPlan", "COLUMNS"]
