"""Configuration and summary of a synthetic population run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pprl.errors import InputError

# Relative weights of planted wrong-link kinds (normalised per claims file).
INSURER_KIND_WEIGHTS: dict[str, float] = {
    "homonym": 0.22,
    "homonym_same_dob": 0.13,
    "family": 0.20,
    "twin": 0.08,
    "data_entry": 0.20,
    "transposed_digits": 0.17,
}
BANK_KIND_WEIGHTS: dict[str, float] = {
    "bank_carryover": 0.30,
    "homonym": 0.15,
    "homonym_same_dob": 0.10,
    "family": 0.15,
    "twin": 0.05,
    "data_entry": 0.13,
    "transposed_digits": 0.12,
}


@dataclass
class NoiseRates:
    """Probability of each attribute-noise kind per claim record (see docs/synthetic-data.md).

    Rates apply to correct and wrong links alike. A kind that cannot apply to a record
    (e.g. ``kanji_variant`` on a name without a variant character) is skipped and not
    recorded. Groups marked exclusive draw at most one kind per record.
    """

    kanji_variant: float = 0.25  # of records whose name has an old/new variant character
    maiden_name: float = 0.10  # of records of married women (claim keeps the old surname)
    kana_typo: float = 0.01
    kana_long_vowel: float = 0.02  # オウ -> オー etc., of eligible records
    kana_ou_oo: float = 0.02  # オウ <-> オオ, of eligible records
    kana_hiragana: float = 0.02  # exclusive with kana_halfwidth / missing_kana
    kana_halfwidth: float = 0.02
    missing_kana: float = 0.003
    dob_day_month_swap: float = 0.004  # exclusive date group; swap only if day <= 12
    dob_year_off_by_one: float = 0.004
    dob_era_format: float = 0.01  # written as 和暦, e.g. 昭和55年5月3日
    dob_era_error: float = 0.003  # 和暦 with the era year off by one
    missing_dob: float = 0.002
    moved_address: float = 0.03  # exclusive with missing_address
    missing_address: float = 0.005
    address_format: float = 0.20  # 1-2-3 instead of 1丁目2番3号
    missing_sex: float = 0.002


#: Bounds of ``--people`` (the register's size) and ``--seed`` (numpy seeds are 32-bit
#: here: the same seed must give the same files everywhere).
MIN_PEOPLE = 100
MAX_PEOPLE = 200_000_000
MAX_SEED = 2**32 - 1


@dataclass
class SynthConfig:
    """What to generate: population size, seed, claims and error/noise rates."""

    people: int
    seed: int
    claims: int | None = None  # insurer records; default people // 2
    mislink_rate: float = 0.01
    bank_claims: int = 0
    invalid_rate: float = 0.002
    noise: NoiseRates = field(default_factory=NoiseRates)
    extra_namesake_rate: float = 0.002  # residents turned into namesakes of others
    extra_namesake_same_dob: float = 0.5  # share of those also sharing the birth date
    register_old_kanji_rate: float = 0.25  # register holds the old form (髙橋) when one exists
    transposition_pair_rate: float = 0.001  # extra transposition-neighbour pairs
    chunk_rows: int = 500_000

    def insurer_claims(self) -> int:
        """Number of insurer records (``claims`` or half the population)."""
        return self.people // 2 if self.claims is None else self.claims

    def validate(self) -> None:
        """Raise :class:`InputError` for sizes or rates that cannot be generated."""
        if not MIN_PEOPLE <= self.people <= MAX_PEOPLE:
            raise InputError(
                f"--people must be between {MIN_PEOPLE} and {MAX_PEOPLE:,}, got {self.people}"
            )
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"--seed must be between 0 and {MAX_SEED}, got {self.seed}")
        m = self.insurer_claims()
        if not 0 <= m <= self.people:
            raise InputError(f"--claims must be between 0 and --people ({self.people}), got {m}")
        if not 0 <= self.bank_claims <= self.people // 2:
            raise InputError(
                f"--bank-claims must be between 0 and half of --people, got {self.bank_claims}"
            )
        for name in ("mislink_rate", "invalid_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 0.2:
                raise InputError(f"{name.replace('_', '-')} must be in [0, 0.2], got {value}")


@dataclass
class SynthSummary:
    """What was written: sizes, counts of planted errors per file and kind, paths."""

    people: int
    households: int
    insurer_claims: int
    bank_claims: int
    planted: dict[str, dict[str, int]]
    files: dict[str, Path]
    seconds: float = 0.0
