"""Cells as numbers: float() semantics at numpy's speed, and the counts an upload's checks need of a
column, gathered while it is read (engine.csvdata)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

# Cells gathered as separate strings (a chunk of rows) before each column's are joined into its text
# and counted: ~1 MB of Python strings at a time, and few enough numpy calls to cost little.
CHUNK_CELLS = 16_384
DISTINCT_CAP = 1000  # distinct spellings counted per column; describe() reports at most this many


def to_number(text: str) -> Optional[float]:
    """A finite float, or None for anything else (text, empty, nan, inf)."""
    try:
        v = float(text)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def numbers(values: list[str]) -> np.ndarray:
    """(N,) float64: each cell as to_number reads it, NaN where it is no finite number.

    numpy parses a whole column at once, reading each str as float() does (~30x faster than float()
    per cell); a column with any other cell (text, empty) is read cell by cell."""
    try:
        out = np.array(values, dtype=np.float64)
    except ValueError:
        out = np.array([np.nan if (v := to_number(c)) is None else v for c in values], dtype=np.float64)
    out[~np.isfinite(out)] = np.nan
    return out


def mostly_numbers(values: list[str]) -> bool:
    """A column is numeric when at least half its non-empty cells are numbers."""
    present = len(values) - values.count("")
    return bool(present) and 2 * int(np.count_nonzero(~np.isnan(numbers(values)))) >= present


@dataclass
class ColumnStats:
    """What the checks of an upload need of one column, gathered chunk by chunk while it is read, so
    that no check splits the column into a list of cells again (issue 14: ~55 bytes a cell).

    numpy reads a list of str as float() does (underscores, Unicode digits, 'inf' included), so
    `clean` means what to_number would say of every cell."""

    n: int = 0
    missing: int = 0  # empty cells
    clean: bool = True  # every cell a finite number
    whole: bool = True  # ... and each a whole number
    counts: Optional[Counter] = field(default_factory=Counter)  # cells per spelling; None past the cap

    def add(self, cells: list[str]) -> None:
        self.n += len(cells)
        self.missing += cells.count("")
        if self.clean:
            try:
                values = np.array(cells, dtype=np.float64)  # (len(cells),)
            except (ValueError, TypeError):
                self.clean = self.whole = False
            else:
                if not np.isfinite(values).all():
                    self.clean = self.whole = False
                elif self.whole:
                    self.whole = bool((values == np.floor(values)).all())
        if self.counts is not None:
            self.counts.update(cells)
            if len(self.counts) > DISTINCT_CAP + 1:  # "" may be one of them
                self.counts = None

    @property
    def distinct(self) -> int:
        """Distinct non-empty spellings, at most DISTINCT_CAP."""
        if self.counts is None:
            return DISTINCT_CAP
        return min(len(self.counts) - ("" in self.counts), DISTINCT_CAP)

    def numbers(self) -> Optional[int]:
        """How many cells are finite numbers; None when it is not known without reading them again."""
        if self.clean:
            return self.n
        if self.counts is None:
            return None
        return sum(c for v, c in self.counts.items() if v and to_number(v) is not None)

    @classmethod
    def of(cls, cells: list[str]) -> "ColumnStats":
        st = cls()
        for i in range(0, len(cells), CHUNK_CELLS):
            st.add(cells[i:i + CHUNK_CELLS])
        return st
