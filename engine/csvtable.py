"""An uploaded table's storage: its columns' text in one buffer, which is also its stored form,
and the anonymous maps (Spool) that a body and a table's columns are gathered in while a CSV is read
(engine.csvdata reads it). Never pickle: the stored form is a JSON header and UTF-8 text."""

from __future__ import annotations

import json
import mmap
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .csvnumbers import ColumnStats, mostly_numbers

SEP = "\x00"  # joins the cells of one column: a file holding a NUL byte is refused, so none is a cell
_SEP = SEP.encode()
_MAGIC_V1 = b"LLTBL1\n"  # header first: written before 2026-12-03, still read
_MAGIC = b"LLTBL2\n"  # the stored form of a Table: never pickle
_TRAILER = 8  # the header's length, little-endian, closes the form


@dataclass
class Table:
    """A CSV's cells as stripped text, column by column, with each data row's line in the file.

    Held in its stored form, one buffer (`buffer()` is what the database keeps, with no copy):
    `LLTBL2\n`, each column's cells as UTF-8 joined by NUL, zero padding to a multiple of 4, the rows'
    lines as little-endian int32, a JSON header (columns, sizes, n_rows) and that header's length in 8
    bytes. Columnar and compact: a 10 MB upload held as lists of Python strings took ~171 MiB, and as
    Python text plus a stored copy ~2x the file (issue 14). `column(name)` splits one column when it
    is needed."""

    columns: list[str]
    data: Any  # bytes from the database; the anonymous mmap read_csv assembled; any bytes-like buffer
    spans: list[tuple[int, int]]  # spans[j]: where column j's text is in `data`
    lines: np.ndarray  # (n_rows,) int32: where row i is in the file (the header is row 1); a view of `data`
    # stats[j]: column j's, gathered by read_csv; a stored table's are counted when first asked for.
    stats: list[Optional[ColumnStats]] = field(default_factory=list, repr=False, compare=False)

    @property
    def n_rows(self) -> int:
        return len(self.lines)

    def text(self, j: int) -> str:
        """Column j's cells joined by SEP, decoded from the buffer."""
        a, b = self.spans[j]
        return str(memoryview(self.data)[a:b], "utf-8")

    def column(self, name: str) -> list[str]:
        """The cells of one column, as a new list."""
        return self.text(self.columns.index(name)).split(SEP) if self.n_rows else []

    def stats_of(self, name: str) -> ColumnStats:
        j = self.columns.index(name)
        if len(self.stats) != len(self.columns):
            self.stats = [None] * len(self.columns)
        if self.stats[j] is None:
            self.stats[j] = ColumnStats.of(self.column(name))
        return self.stats[j]  # type: ignore[return-value]

    def is_numeric(self, name: str) -> bool:
        """At least half the column's non-empty cells are numbers."""
        st = self.stats_of(name)
        present, found = st.n - st.missing, st.numbers()
        if found is None:  # many distinct spellings, not all numbers: read the cells
            return mostly_numbers(self.column(name))
        return bool(present) and 2 * found >= present

    def buffer(self) -> memoryview:
        """The stored form, as it is held: what the database keeps and what from_bytes reads back."""
        return memoryview(self.data)

    def to_bytes(self) -> bytes:
        """The stored form as a new bytes object (a copy; the server stores `buffer()`)."""
        return bytes(self.buffer())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return self.columns == other.columns and np.array_equal(self.lines, other.lines) and \
            all(self.text(j) == other.text(j) for j in range(len(self.columns)))

    @classmethod
    def from_bytes(cls, data: Any) -> "Table":
        """A stored table, over `data` itself (no copy): this form or the older header-first one."""
        view = memoryview(data)
        if view[:len(_MAGIC)] == _MAGIC:
            n = int.from_bytes(view[-_TRAILER:], "little")
            header = json.loads(bytes(view[len(view) - _TRAILER - n:len(view) - _TRAILER]))
            at = len(_MAGIC)
        elif view[:len(_MAGIC_V1)] == _MAGIC_V1:
            at = len(_MAGIC_V1)
            n = int.from_bytes(view[at:at + 8], "little")
            header = json.loads(bytes(view[at + 8:at + 8 + n]))
            at += 8 + n
        else:
            raise ValueError("not a stored table")
        spans = []
        for size in header["sizes"]:
            spans.append((at, at + size))
            at += size
        if view[:len(_MAGIC)] == _MAGIC:
            at += -at % 4
        lines = np.frombuffer(data, dtype="<i4", count=header["n_rows"], offset=at)
        return cls(list(header["columns"]), data, spans, lines)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "Table":
        """A table stored by an older server: its cells as lists."""
        texts = [SEP.join(c).encode("utf-8") for c in obj["cells"]]
        return assemble(list(obj["columns"]), texts, np.asarray(obj["lines"], dtype=np.int32))


class Spool:
    """Bytes appended in pieces (a request body; a column's UTF-8 text while a file is read), in an
    anonymous mmap that grows by mremap (mmap.resize): growing never copies, only written pages take
    memory, and closing it gives them back at once, whatever the allocator does. bytearrays grown
    side by side for each column left about the file's size of freed heap behind them (measured: 2.1x
    the file resident before assembly, 1.1x with these), and a body joined from its chunks was twice
    the file for a moment, then its chunks' freed heap stayed."""

    def __init__(self, capacity: int) -> None:
        # Private: a shared anonymous map is backed by a shmem file that mremap does not grow (SIGBUS).
        self.mm = mmap.mmap(-1, max(capacity, mmap.PAGESIZE), flags=mmap.MAP_PRIVATE)

    def add(self, data: bytes) -> None:
        need = self.mm.tell() + len(data)
        if need > len(self.mm):
            self.mm.resize(max(need, 2 * len(self.mm)))
        self.mm.write(data)

    def __len__(self) -> int:
        return self.mm.tell()

    def close(self) -> None:
        """Give its pages back now (nothing may read it afterwards)."""
        self.mm.close()

    def take(self) -> memoryview:
        return memoryview(self.mm)[:self.mm.tell()]

    def seal(self) -> Any:
        """The bytes written, as a read-only-by-convention buffer of exactly their length (the map,
        shrunk), or b"" when there are none; the spool is not written to again."""
        size = self.mm.tell()
        if size == 0:
            self.close()
            return b""
        self.mm.resize(size)
        self.mm.seek(0)  # an mmap's find() starts at its position
        return self.mm


def assemble(columns: list[str], texts: list[Any], lines: np.ndarray,
              stats: Optional[list[ColumnStats]] = None) -> Table:
    """The stored form of a table, built in an anonymous mmap of its final size, whose pages are
    only touched as they are written: each column's text is dropped from `texts` as soon as it is
    copied, so the file's text is held about once, not twice, at any moment."""
    sizes = [len(t) for t in texts]
    header = json.dumps({"columns": columns, "sizes": sizes, "n_rows": len(lines)}).encode()
    text_end = len(_MAGIC) + sum(sizes)
    lines_at = text_end + (-text_end % 4)
    total = lines_at + 4 * len(lines) + len(header) + _TRAILER
    out = mmap.mmap(-1, total, flags=mmap.MAP_PRIVATE)
    out.write(_MAGIC)
    spans = []
    for j, text in enumerate(texts):
        spans.append((out.tell(), out.tell() + sizes[j]))
        if isinstance(text, Spool):
            with text.take() as view:
                out.write(view)
            text.close()  # its pages go back now, before the next column is written
        else:
            out.write(text)
    texts.clear()
    out.seek(lines_at)
    out.write(lines.astype("<i4").tobytes())
    out.write(header)
    out.write(len(header).to_bytes(_TRAILER, "little"))
    view = np.frombuffer(out, dtype="<i4", count=len(lines), offset=lines_at)
    return Table(columns, out, spans, view, list(stats or []))
