"""Uploaded tables: read a CSV with the csv module (never eval or pickle), choose the feature and
target columns, and make a classification or regression Split.

Every problem is a CsvError that names the row (the file's line, the header being row 1) and the
column, so that a user can find it in an editor or a spreadsheet.
"""

from __future__ import annotations

import csv
import io
import math
import re
from array import array
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import numpy as np

from .csvnumbers import CHUNK_CELLS, ColumnStats, mostly_numbers, numbers, to_number
# The storage of a table; SEP, Spool and Table are imported from here too.
from .csvtable import _SEP, SEP, Spool, Table, assemble
from .data import SOURCES, DataInfo, Source, Split, split_arrays
from .errors import ErrorItem, LayerlabError, SpecError
from .family import FAMILIES

MAX_COLUMNS = 256
MAX_CLASSES = 100
MAX_NAME = 100  # characters in a column name
MIN_ROWS = 4  # at least one row each for training and validation, with a little to spare
# A numeric target with at most this many distinct whole numbers is read as class labels.
CLASS_LIKE_DISTINCT = 20
DELIMITERS = (",", ";", "\t")


class CsvError(LayerlabError):
    """A file or a column choice that cannot become a dataset. `field` is what to fix:
    'file', 'features', 'target', 'task' or 'n_classes'."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None,
                 field: str = "file", role: str | None = None) -> None:
        super().__init__(message)
        self.message, self.row, self.column, self.field = message, row, column, field
        self.role = role  # for a bad cell: 'features' or 'target', the choice that reads it

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.field, "message": self.message, "row": self.row, "column": self.column}

    def to_spec_error(self) -> SpecError:
        """The same problem, found in a spec's data: data.features or data.target for a bad cell of a
        chosen column, data.<field> otherwise (data.upload for the file itself)."""
        field = self.role or ("upload" if self.field == "file" else self.field)
        return SpecError([ErrorItem(f"data.{field}", self.message)])


def _delimiter(header: str) -> str:
    """Comma, unless the header line has none and has semicolons or tabs instead."""
    counts = {d: header.count(d) for d in DELIMITERS}
    return "," if counts[","] else max(DELIMITERS, key=lambda d: counts[d])


def _not_utf8(raw: Any) -> CsvError:
    try:
        str(memoryview(raw), "utf-8-sig")  # decoded to find the bad byte: this is the error path
    except UnicodeDecodeError as e:
        row = bytes(memoryview(raw)[:e.start]).count(b"\n") + 1
        return CsvError(f"row {row}: the file is not UTF-8 text (byte {e.start})", row=row)
    return CsvError("the file is not UTF-8 text")


class _BufferReader(io.RawIOBase):
    """A binary stream over any buffer (an mmap'd body), read without copying it whole."""

    def __init__(self, data: Any) -> None:
        self.view, self.at = memoryview(data), 0

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), len(self.view) - self.at)
        b[:n] = self.view[self.at:self.at + n]
        self.at += n
        return n


def _stream(data: Any) -> tuple[Any, str]:
    """A text stream over `data` (text, bytes, or a buffer with find() such as Spool.seal()'s map;
    bytes are decoded as they are read, never whole) and its delimiter; raises CsvError for an
    empty file or one holding NUL."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not len(raw) or re.search(rb"\S", raw) is None:  # not raw.strip() nor split(): each copied the file
        raise CsvError("the file is empty")
    nul = raw.find(b"\x00", 0)
    if nul >= 0:
        row = bytes(memoryview(raw)[:nul]).count(b"\n") + 1
        raise CsvError(f"row {row}: the file holds a NUL byte; is it a binary file such as a spreadsheet? "
                       "Export it as CSV", row=row)
    end = raw.find(b"\n", 0)
    header = bytes(raw[:end if end >= 0 else len(raw)]).decode("utf-8", "replace")
    if isinstance(data, str):
        return io.StringIO(data, newline=""), _delimiter(header)
    binary = io.BytesIO(data) if isinstance(data, bytes) else io.BufferedReader(_BufferReader(data))
    return io.TextIOWrapper(binary, encoding="utf-8-sig", newline=""), _delimiter(header)


def read_csv(data: Any, max_rows: int, max_columns: int = MAX_COLUMNS) -> Table:
    """Parse a CSV file (UTF-8 bytes or a buffer such as Spool.seal()'s, or text): a header row of unique names, then rows of exactly as
    many values. Row by row, into columns: memory stays near the size of the file."""
    stream, delimiter = _stream(data)
    size = len(data)
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    columns: list[str] | None = None
    texts: list[Spool] = []  # texts[j]: column j's UTF-8 text so far, cells joined by SEP
    stats: list[ColumnStats] = []
    rows: list[list[str]] = []  # the records since the last chunk
    per_chunk = 0  # rows in a chunk
    lines = array("i")

    def chunk() -> None:  # the rows so far, transposed onto each column's text and counted
        for j, cells in enumerate(zip(*rows)):
            stripped = list(map(str.strip, cells))
            if len(lines) > len(rows):  # not the first chunk
                texts[j].add(_SEP)
            texts[j].add(SEP.join(stripped).encode("utf-8"))
            stats[j].add(stripped)
        rows.clear()

    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue  # blank line
            if columns is None:
                columns = _header(record, reader.line_num, max_columns)
                # a column holds about its share of the file: reserve that, grown when it is not
                texts = [Spool(2 * size // len(columns)) for _ in columns]
                stats = [ColumnStats() for _ in columns]
                per_chunk = max(16, CHUNK_CELLS // len(columns))
                continue
            line = reader.line_num
            if len(record) != len(columns):
                raise CsvError(_ragged(record, columns, line), row=line,
                               column=columns[min(len(record), len(columns) - 1)] if len(record) < len(columns) else None)
            if len(lines) >= max_rows:
                raise CsvError(f"the file has more than {max_rows:,} data rows; the cap is {max_rows:,}", row=line)
            rows.append(record)
            lines.append(line)
            if len(rows) == per_chunk:
                chunk()
    except csv.Error as e:
        raise CsvError(f"row {reader.line_num}: the file is not valid CSV ({e})", row=reader.line_num) from None
    except UnicodeDecodeError:
        raise _not_utf8(b"" if isinstance(data, str) else data) from None
    if columns is None:
        raise CsvError("the file is empty")
    if not lines:
        raise CsvError("the file has a header but no data rows", row=2)
    if rows:
        chunk()
    return assemble(columns, texts, np.frombuffer(lines, dtype=np.int32), stats)


def _header(record: list[str], line: int, max_columns: int) -> list[str]:
    names = [name.strip() for name in record]
    if len(names) > max_columns:
        raise CsvError(f"the header has {len(names)} columns; the cap is {max_columns}", row=line)
    if len(names) < 2:
        raise CsvError(f"row {line} (the header) names {len(names)} column; a dataset needs at least "
                       "a feature and a target, separated by commas", row=line)
    seen: dict[str, int] = {}
    for j, name in enumerate(names, 1):
        if not name:
            raise CsvError(f"row {line} (the header): column {j} has no name", row=line, column=str(j))
        if len(name) > MAX_NAME:
            raise CsvError(f"row {line} (the header): column {j}'s name is longer than {MAX_NAME} characters",
                           row=line, column=str(j))
        if name in seen:
            raise CsvError(f"row {line} (the header): the name {name!r} is used by columns {seen[name]} and {j}",
                           row=line, column=name)
        seen[name] = j
    return names


def _ragged(record: list[str], columns: list[str], line: int) -> str:
    n, m = len(record), len(columns)
    if n < m:
        missing = ", ".join(repr(c) for c in columns[n:])
        return f"row {line} has {n} values but the header has {m} columns: no value for column {missing}"
    return f"row {line} has {n} values but the header has {m} columns ({n - m} too many)"


def describe(table: Table) -> list[dict[str, Any]]:
    """Each column: its name, whether it is numeric, its missing cells and distinct values (capped at 1000)."""
    out = []
    for name in table.columns:
        st = table.stats_of(name)
        out.append({"name": name, "numeric": table.is_numeric(name), "missing": st.missing,
                    "distinct": st.distinct})
    return out


def _has_classes(task: str) -> bool:
    # A task whose target is a class predicts one of n_classes labels; the others predict numbers.
    return FAMILIES.get(task).target == "class"


def suggest(table: Table, features: Optional[list[str]] = None, target: Optional[str] = None,
            task: Optional[str] = None) -> tuple[list[str], str, str]:
    """Fill in what the user did not choose: the last column as the target, every other numeric
    column as a feature, and classification for a text (or few-valued whole-number) target."""
    if target is None:
        target = table.columns[-1]
    elif target not in table.columns:
        raise CsvError(f"there is no column {target!r}; the columns are {_names(table)}", column=target, field="target")
    if features is None:
        features = [c for c in table.columns if c != target and table.is_numeric(c)]
        if not features:
            raise CsvError(f"no column besides the target {target!r} holds numbers to use as features",
                           field="features")
    if task is None:
        task = _guess_task(table, target)
    elif task not in FAMILIES:
        raise CsvError(f"unknown task {task!r}; valid: {', '.join(FAMILIES.names())}", field="task")
    return list(features), target, task


def _guess_task(table: Table, target: str) -> str:
    """Classification for a text target or one of few whole numbers; regression otherwise."""
    st = table.stats_of(target)
    if st.counts is not None:  # from its distinct spellings
        spelled = {v: to_number(v) for v in st.counts if v}
        present = st.n - st.missing
        numeric = bool(present) and 2 * sum(st.counts[v] for v, n in spelled.items() if n is not None) >= present
        whole = all(n is not None and n == int(n) for n in spelled.values())
        few = len(set(spelled.values())) <= CLASS_LIKE_DISTINCT
    elif st.clean and not st.whole:  # over a thousand spellings, all numbers, some fractions
        return "regression"
    else:  # over a thousand spellings that may be few values ('1', '1.0', '01', ...): read the cells
        values = [v for v in table.column(target) if v]
        numbers = [to_number(v) for v in values]
        numeric = mostly_numbers(values)
        whole = all(n is not None and n == int(n) for n in numbers)
        few = len(set(numbers)) <= CLASS_LIKE_DISTINCT
    return "classification" if not numeric or (whole and few) else "regression"


def _names(table: Table) -> str:
    return ", ".join(repr(c) for c in table.columns)


# -- choosing columns ---------------------------------------------------------------------------------
@dataclass
class Selection:
    """The chosen columns as arrays: x (N, F) float64; y (N,) class indices or float64 targets."""

    x: np.ndarray
    y: np.ndarray
    classes: Optional[list[str]]  # class labels in index order; None for regression


def select(table: Table, features: list[str], target: str, task: str, n_rows: Optional[int] = None,
           max_classes: int = MAX_CLASSES) -> Selection:
    """The feature and target columns as numbers; raises CsvError naming the row and column."""
    _check_columns(table, features, target)
    n = table.n_rows if n_rows is None else min(n_rows, table.n_rows)
    if n < MIN_ROWS:
        raise CsvError(f"the data has {n} row{'s' if n != 1 else ''}; at least {MIN_ROWS} are needed", field="file")
    lines = table.lines[:n].tolist()
    x = np.empty((n, len(features)), dtype=np.float64)
    for j, name in enumerate(features):
        cells = table.column(name)[:n]
        x[:, j] = numbers(cells)
        bad = np.flatnonzero(np.isnan(x[:, j]))
        if len(bad):  # the first cell that is no number says why
            _number(cells[bad[0]], lines[bad[0]], name, "value", "features")
    raw = table.column(target)[:n]
    if "" in raw:
        i = raw.index("")
        raise CsvError(f"row {lines[i]}, column {target!r}: the target is missing", row=lines[i], column=target,
                       role="target")
    if not _has_classes(task):
        y = numbers(raw)
        bad = np.flatnonzero(np.isnan(y))
        if len(bad):
            _number(raw[bad[0]], lines[bad[0]], target, "target", "target")
        return Selection(x, y, None)
    classes, index = _classes(raw, target, max_classes)
    return Selection(x, np.array([index[c] for c in raw], dtype=np.int64), classes)


def check_choice(table: Table, features: list[str], target: str, task: str, n_rows: Optional[int] = None,
                 max_classes: int = MAX_CLASSES) -> Optional[list[str]]:
    """What select() would say of this choice, without building its arrays: the class labels (None for
    regression), or the same CsvError. Answered from the columns' stats where they settle it."""
    _check_columns(table, features, target)
    whole_table = n_rows is None or n_rows >= table.n_rows
    st = table.stats_of(target)
    if whole_table and table.n_rows >= MIN_ROWS and all(table.stats_of(f).clean for f in features) \
            and not st.missing:
        if not _has_classes(task) and st.clean:
            return None
        if _has_classes(task) and st.counts is not None:
            return _classes(list(st.counts), target, max_classes)[0]
    return select(table, features, target, task, n_rows, max_classes).classes  # a cell to name, or a prefix


def _check_columns(table: Table, features: list[str], target: str) -> None:
    if target not in table.columns:
        raise CsvError(f"there is no column {target!r}; the columns are {_names(table)}", column=target, field="target")
    if not features:
        raise CsvError("choose at least one feature column", field="features")
    for name in features:
        if name not in table.columns:
            raise CsvError(f"there is no column {name!r}; the columns are {_names(table)}", column=name, field="features")
    if len(set(features)) != len(features):
        raise CsvError("a feature column is chosen twice", field="features")
    if target in features:
        raise CsvError(f"the target {target!r} cannot also be a feature", column=target, field="features")


def _number(cell: str, line: int, column: str, what: str, role: str) -> float:
    v = to_number(cell)
    if v is not None:
        return v
    if not cell:
        raise CsvError(f"row {line}, column {column!r}: the {what} is missing", row=line, column=column, role=role)
    kind = "not a finite number" if _looks_infinite(cell) else "not a number"
    raise CsvError(f"row {line}, column {column!r}: {cell[:40]!r} is {kind}", row=line, column=column, role=role)


def _looks_infinite(cell: str) -> bool:
    try:
        return not math.isfinite(float(cell))
    except ValueError:
        return False


def _classes(raw: list[str], target: str, max_classes: int) -> tuple[list[str], dict[str, int]]:
    """Class labels in order (numerically when every label is a number) and each cell's index."""
    labels = sorted(set(raw))
    numbers = {v: to_number(v) for v in labels}
    if all(n is not None for n in numbers.values()):
        # '1' and '1.0' are one class: group by value, name each class by its first spelling.
        by_value: dict[float, str] = {}
        for v in sorted(labels, key=lambda v: (numbers[v], v)):
            by_value.setdefault(numbers[v], v)  # type: ignore[arg-type]
        classes = [by_value[k] for k in sorted(by_value)]
        index = {v: classes.index(by_value[numbers[v]]) for v in labels}  # type: ignore[index]
    else:
        classes = labels
        index = {v: i for i, v in enumerate(classes)}
    if len(classes) < 2:
        raise CsvError(f"column {target!r} has only one class ({classes[0]!r}); classification needs at least two",
                       column=target, field="target")
    if len(classes) > max_classes:
        raise CsvError(f"column {target!r} has {len(classes)} distinct values; classification allows at most "
                       f"{max_classes} classes (is it a regression target?)", column=target, field="target")
    return classes, index


def table_split(table: Table, data, task: str) -> Split:
    """The Split of an uploaded table for a DataSpec (dataset 'csv'), checked against its n_classes."""
    sel = select(table, list(data.features), data.target, task, n_rows=data.n_samples)
    check_classes(sel.classes, data)
    return split_arrays(sel.x, sel.y, data, task, (len(data.features),), data.n_classes)


def check_classes(classes: Optional[list[str]], data) -> None:
    """The spec's n_classes must be the target's: the head is built from it before the data is read."""
    have = len(classes) if classes is not None else None
    if have != data.n_classes:
        raise CsvError(f"data.n_classes is {data.n_classes} but column {data.target!r} has "
                       f"{have if have is not None else 'no'} classes", column=data.target, field="n_classes")


# -- the source ------------------------------------------------------------------------------------------
class CsvSource(Source):
    """A CSV uploaded to a session. The spec names the upload, the columns and the number of classes."""

    name: ClassVar[str] = "csv"
    label: ClassVar[str] = "Uploaded CSV"
    task: ClassVar[str] = "classification"
    description: ClassVar[str] = "Your own table: numeric feature columns and a target column."
    fields: ClassVar[tuple[str, ...]] = ("upload", "features", "target", "n_classes")
    required: ClassVar[tuple[str, ...]] = ("upload", "features", "target")
    default_samples: ClassVar[int] = 0  # all rows

    def info(self, data) -> DataInfo:
        f = len(data.features or ())
        task = "classification" if data.n_classes else "regression"
        kind = "2d" if f == 2 else "1d" if f == 1 and task == "regression" else "table"
        return DataInfo((f,), data.n_classes, task, kind)

    def task_problem(self, data, task: str, natural: str) -> str:
        if data.n_classes is None:
            return (f"task {task!r} on an uploaded table needs data.n_classes, the number of classes "
                    "in the target column (the upload's answer gives it)")
        return f"task {task!r} takes no data.n_classes; remove it, or use task {natural!r}"


SOURCES.register(CsvSource.name, CsvSource())
