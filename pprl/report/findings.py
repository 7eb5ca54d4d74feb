"""The per-claim columns of a findings table as numpy arrays, for plots and tables.

The table is read once: statuses become :class:`~pprl.verify.model.Status` codes (an
``int8`` per claim, no Python string per row), scores and margins ``float64`` with NaN
for null, so a million claims cost a few tens of milliseconds here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from pprl.errors import InputError
from pprl.verify.model import Status

#: Columns the report reads (the findings format of ``pprl verify``; others are ignored).
REQUIRED_COLUMNS: tuple[str, ...] = (
    "claims_file",
    "claim_row",
    "status",
    "score",
    "reason",
    "candidate_ref_row",
    "candidate_score",
    "margin",
)

_LABEL_TO_STATUS = {s.label: s for s in Status}


class FindingsArrays:
    """Status codes, scores and margins of every claim, plus row access for tables."""

    def __init__(self, table: pa.Table) -> None:
        missing = [c for c in REQUIRED_COLUMNS if c not in table.column_names]
        if missing:
            raise InputError(
                f"findings table lacks column(s) {', '.join(missing)}; "
                f"expected {', '.join(REQUIRED_COLUMNS)}"
            )
        self.table = table
        self.n: int = table.num_rows
        self.status: npt.NDArray[np.int8] = _status_codes(table.column("status"))
        self.score: npt.NDArray[np.float64] = _floats(table.column("score"))
        self.margin: npt.NDArray[np.float64] = _floats(table.column("margin"))
        self.probability: npt.NDArray[np.float64] = (
            _floats(table.column("mislink_probability"))
            if "mislink_probability" in table.column_names
            else np.full(self.n, np.nan)
        )
        self._masks: dict[Status, npt.NDArray[np.bool_]] = {}

    def is_status(self, status: Status) -> npt.NDArray[np.bool_]:
        """Boolean mask of the claims with ``status`` (cached: plots ask repeatedly)."""
        if status not in self._masks:
            self._masks[status] = self.status == int(status)
        return self._masks[status]

    def counts(self) -> dict[Status, int]:
        """Claims per status, every status included."""
        found = np.bincount(self.status, minlength=len(Status))
        return {s: int(found[int(s)]) for s in Status}

    def rows(self, indices: Sequence[int], columns: Sequence[str]) -> list[dict[str, Any]]:
        """The given rows as dicts of Python values, in the order of ``indices``."""
        taken = self.table.select(list(columns)).take(pa.array(indices, type=pa.int64()))
        rows: list[dict[str, Any]] = taken.to_pylist()
        return rows


def _status_codes(column: pa.ChunkedArray) -> npt.NDArray[np.int8]:
    """Status labels as :class:`Status` codes; an unknown or null label is refused."""
    if column.null_count:
        raise InputError(f"findings table has {column.null_count} claim(s) without a status")
    encoded = pc.dictionary_encode(column.cast(pa.string())).combine_chunks()
    labels = encoded.dictionary.to_pylist()
    unknown = sorted(set(labels) - set(_LABEL_TO_STATUS))
    if unknown:
        raise InputError(
            f"findings table holds unknown status(es) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(_LABEL_TO_STATUS)}"
        )
    lookup = np.array([int(_LABEL_TO_STATUS[label]) for label in labels] or [0], dtype=np.int8)
    codes: npt.NDArray[np.int8] = lookup[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes


def _floats(column: pa.ChunkedArray) -> npt.NDArray[np.float64]:
    """A numeric column as float64 with NaN for null."""
    values = column.cast(pa.float64()).combine_chunks()
    return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
