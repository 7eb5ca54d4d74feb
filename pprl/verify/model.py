"""The verification core's typed vocabulary: statuses, reasons, thresholds and summaries.

Everything an engine produces and every reader (CLI, report, service) consumes is
defined here, so the seams between them are typed rather than ``dict[str, Any]``.
This module depends on nothing else in pprl.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from enum import IntEnum, IntFlag
from typing import Any


class Status(IntEnum):
    """A claim's verdict; the integer is the code stored in per-claim arrays."""

    CONFIRMED = 0
    REVIEW = 1
    SUSPECT = 2
    UNKNOWN_NUMBER = 3
    INVALID_NUMBER = 4

    @property
    def label(self) -> str:
        """The name used in findings files: ``confirmed``, ``unknown_number``, ..."""
        return self.name.lower()

    @classmethod
    def from_label(cls, label: str) -> Status:
        return cls[label.upper()]


STATUSES: tuple[str, ...] = tuple(s.label for s in Status)
"""Status labels in code order (index = :class:`Status` value)."""


class Reason(IntFlag):
    """Why a claim got its status; several may hold at once (a bitmask per claim)."""

    NO_VALID_NUMBER = 1 << 0
    NO_REGISTER_RECORD = 1 << 1
    LOW_SCORE = 1 << 2
    WEAK_SCORE = 1 << 3
    BETTER_MATCH_ELSEWHERE = 1 << 4
    THIN_EVIDENCE = 1 << 5
    MATCH = 1 << 6
    NUMBER_SHARED_BY_DIFFERENT_PEOPLE = 1 << 7
    PERSON_UNDER_SEVERAL_NUMBERS = 1 << 8
    ALTERNATIVE_CLAIMED_BY_OTHER_RECORD = 1 << 9
    NUMBER_CLAIMED_BY_MANY_RECORDS = 1 << 10

    @property
    def label(self) -> str:
        """The code used in findings files (single flags only)."""
        return (self.name or "").lower()

    @classmethod
    def from_label(cls, label: str) -> Reason:
        return cls[label.upper()]


REASONS: tuple[str, ...] = tuple(r.label for r in Reason)
"""Reason codes in bit order (bit i = ``REASONS[i]``)."""

CROSS_CHECK_REASONS = (
    Reason.NUMBER_SHARED_BY_DIFFERENT_PEOPLE
    | Reason.PERSON_UNDER_SEVERAL_NUMBERS
    | Reason.ALTERNATIVE_CLAIMED_BY_OTHER_RECORD
    | Reason.NUMBER_CLAIMED_BY_MANY_RECORDS
)
"""Reasons that come from comparing claims with other claims, not with the register."""


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds on Dice scores.

    * ``confirm_score``: a claimed pair scoring at least this, with nobody else close,
      is ``confirmed``; below it the claim needs ``review``.
    * ``suspect_score``: a claimed pair scoring below this is ``suspect`` (``low_score``).
    * ``margin_suspect``: another register record scoring this much more than the
      claimed one makes the claim ``suspect`` (``better_match_elsewhere``).
    * ``margin_review``: another record scoring within this of the claimed one (margin
      above ``margin_review``, which is negative) means the evidence cannot tell the two
      apart (twins, namesakes with the same birth date): ``review`` with ``thin_evidence``.
    * ``search_score``: alternatives scoring below this are not reported.
    * ``same_person`` / ``different_people``: Dice above which two claim records are
      taken for one person, and below which two records sharing a number are taken for
      two people (cross-record checks).
    * ``confirm_below`` / ``suspect_above``: cut points on the estimated mislink
      probability (:mod:`pprl.verify.probability`): a claim below ``confirm_below`` is
      ``confirmed``, one at or above ``suspect_above`` is ``suspect``, one between is
      ``review``. Where no probability is estimated (too few claims) the score
      thresholds above decide.

    The defaults are those tuned for the built-in ``jp-resident`` schema; a file's
    schema may carry its own (``pprl.verify`` in the schema), which
    :meth:`for_schema` applies.
    """

    confirm_score: float = 0.65
    suspect_score: float = 0.45
    margin_suspect: float = 0.04
    margin_review: float = -0.03
    search_score: float = 0.5
    same_person: float = 0.92
    different_people: float = 0.6
    confirm_below: float = 0.05
    suspect_above: float = 0.5

    def __post_init__(self) -> None:
        for f in fields(self):
            problem = self.value_problem(f.name, getattr(self, f.name))
            if problem:
                raise ValueError(f"threshold {f.name} {problem}")
        if self.suspect_score > self.confirm_score:
            raise ValueError(
                f"suspect_score ({self.suspect_score}) must not exceed "
                f"confirm_score ({self.confirm_score})"
            )
        if self.confirm_below > self.suspect_above:
            raise ValueError(
                f"confirm_below ({self.confirm_below}) must not exceed "
                f"suspect_above ({self.suspect_above})"
            )
        if self.margin_review > self.margin_suspect:
            raise ValueError(
                f"margin_review ({self.margin_review}) must not exceed "
                f"margin_suspect ({self.margin_suspect})"
            )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def value_problem(cls, name: str, value: object) -> str | None:
        """What is wrong with ``value`` as threshold ``name`` on its own ("must be a
        number, not '0.9'", "must be finite, not nan", "must be between 0.0 and 1.0…"),
        or None when it is a valid value."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number, not {value!r}"
        if not math.isfinite(value):
            return f"must be finite, not {value}"
        low, high = (-1.0, 1.0) if name.startswith("margin_") else (0.0, 1.0)
        if not low <= value <= high:
            return f"must be between {low} and {high}, not {value}"
        return None

    def with_overrides(self, overrides: Mapping[str, float | None] | None) -> Thresholds:
        """These thresholds with the given (non-None) values replaced; unknown names refused."""
        values = {k: v for k, v in (overrides or {}).items() if v is not None}
        unknown = sorted(set(values) - set(self.names()))
        if unknown:
            raise ValueError(f"unknown verification threshold(s): {', '.join(unknown)}")
        return replace(self, **values)

    @classmethod
    def for_schema(
        cls,
        schema_document: Mapping[str, Any] | None,
        overrides: Mapping[str, float | None] | None = None,
    ) -> Thresholds:
        """The built-in defaults, then the schema's ``pprl.verify`` values, then overrides."""
        tuned = ((schema_document or {}).get("pprl") or {}).get("verify") or {}
        return cls().with_overrides(tuned).with_overrides(overrides)

    def to_json(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Thresholds:
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass(frozen=True)
class InputInfo:
    """One input file of a run, as recorded in the summary."""

    file: str
    role: str  # "reference" or "claims"
    party: str
    records: int
    digest: str | None = None
    key_fingerprint: str | None = None
    schema: str | None = None
    schema_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> InputInfo:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class MislinkSummary:
    """What the mislink model says about a whole run: ``claims`` with a probability,
    the ``expected`` number of mislinks among them (the sum of probabilities) with a
    95% interval ``low`` .. ``high`` (Poisson-binomial, :mod:`pprl.verify.probability`);
    ``fallback`` says why no probability was estimated (then the rest is 0)."""

    claims: int
    expected: float
    low: float
    high: float
    fallback: str | None = None

    def describe(self) -> str:
        """One line for people: "about 180 (160–200) wrong links among 30,000 claims"."""
        if self.fallback is not None:
            return f"no mislink probability estimated: {self.fallback}"
        return (
            f"about {self.expected:,.0f} ({self.low:,.0f}–{self.high:,.0f}) wrong links "
            f"among {self.claims:,} claims with a register record"
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MislinkSummary:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass(frozen=True)
class VerifySummary:
    """Counts per status and reason, thresholds, inputs, timings and warnings of one run.

    ``counts`` has every status label (zero included), ``reasons`` every reason code
    that occurred, most frequent first; ``blocking`` the block keys actually searched.
    """

    pprl_version: str
    claims: int
    counts: dict[str, int]
    reasons: dict[str, int]
    thresholds: Thresholds
    blocking: list[str]
    inputs: list[InputInfo]
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    started_at: str | None = None  # ISO 8601 UTC time the run started
    mislinks: MislinkSummary | None = None

    @property
    def reference(self) -> InputInfo:
        return next(i for i in self.inputs if i.role == "reference")

    @property
    def claims_inputs(self) -> list[InputInfo]:
        return [i for i in self.inputs if i.role == "claims"]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (what ``summary.json`` holds)."""
        return {
            "pprl_version": self.pprl_version,
            "claims": self.claims,
            "counts": dict(self.counts),
            "reasons": dict(self.reasons),
            "thresholds": self.thresholds.to_json(),
            "blocking": list(self.blocking),
            "inputs": [i.to_json() for i in self.inputs],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "warnings": list(self.warnings),
            "started_at": self.started_at,
            "mislinks": None if self.mislinks is None else self.mislinks.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VerifySummary:
        return cls(
            pprl_version=str(data["pprl_version"]),
            claims=int(data["claims"]),
            counts={str(k): int(v) for k, v in data["counts"].items()},
            reasons={str(k): int(v) for k, v in data["reasons"].items()},
            thresholds=Thresholds.from_json(data["thresholds"]),
            blocking=[str(b) for b in data["blocking"]],
            inputs=[InputInfo.from_json(i) for i in data["inputs"]],
            timings={str(k): float(v) for k, v in data.get("timings", {}).items()},
            warnings=[str(w) for w in data.get("warnings", [])],
            started_at=data.get("started_at"),
            mislinks=MislinkSummary.from_json(data["mislinks"]) if data.get("mislinks") else None,
        )
