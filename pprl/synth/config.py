"""Configuration and summary of a synthetic population run."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Profile:
    """A named population preset: every rate that shapes how hard verification is.

    ``default`` is the population the shipped thresholds were tuned on; ``hard`` is the
    harder population of issue 14. A profile changes only rates, never the random
    streams, so ``default`` gives the same files as before profiles existed.
    """

    name: str
    summary: str
    noise: NoiseRates = field(default_factory=NoiseRates)
    twin_rate: float = 0.04  # of families with two or more children
    extra_namesake_rate: float = 0.002  # residents turned into namesakes of others
    extra_namesake_same_dob: float = 0.5  # share of those also sharing the birth date
    register_old_kanji_rate: float = 0.25  # register holds the old form (髙橋) when one exists
    transposition_pair_rate: float = 0.001  # extra transposition-neighbour pairs

    def validate(self) -> None:
        """Raise :class:`InputError` for a rate outside [0, 1] or a group of mutually
        exclusive noise kinds whose rates add up to more than 1."""
        rates = {f"noise.{k}": v for k, v in vars(self.noise).items()}
        rates.update({k: v for k, v in vars(self).items() if k not in ("name", "summary", "noise")})
        for key, value in rates.items():
            if not 0.0 <= value <= 1.0:
                raise InputError(f"profile {self.name}: {key} must be in [0, 1], got {value}")
        for group in _EXCLUSIVE:
            total = sum(getattr(self.noise, k) for k in group)
            if total > 1.0:
                raise InputError(
                    f"profile {self.name}: {' + '.join(group)} must add up to at most 1, "
                    f"got {total:g}"
                )


#: Noise kinds drawn from one uniform number per record: at most one of each group.
_EXCLUSIVE = (
    ("kana_long_vowel", "kana_ou_oo"),
    ("kana_hiragana", "kana_halfwidth", "missing_kana"),
    ("dob_day_month_swap", "dob_year_off_by_one", "dob_era_format", "dob_era_error", "missing_dob"),
    ("moved_address", "missing_address"),
)

DEFAULT_PROFILE = Profile("default", "the population the shipped thresholds were tuned on")
HARD_PROFILE = Profile(
    "hard",
    "twice the same-birth-date namesakes, 6% twins, 15% maiden names, 15% moves, "
    "30% half-width kana, twice the kana typos",
    noise=replace(
        NoiseRates(), maiden_name=0.15, moved_address=0.15, kana_halfwidth=0.30, kana_typo=0.02
    ),
    twin_rate=0.06,
    # twice the same-date namesakes (0.2% of residents instead of 0.1%), the same 0.1%
    # with another birth date as in the default
    extra_namesake_rate=0.003,
    extra_namesake_same_dob=2 / 3,
)
#: Profiles by the name ``pprl synth --profile`` takes.
PROFILES: dict[str, Profile] = {p.name: p for p in (DEFAULT_PROFILE, HARD_PROFILE)}


def profile_named(name: str) -> Profile:
    """The profile called ``name``; :class:`InputError` listing the known names otherwise."""
    try:
        return PROFILES[name]
    except KeyError:
        raise InputError(f"--profile must be one of {', '.join(PROFILES)}, got {name!r}") from None


#: Bounds of ``--people`` (the register's size) and ``--seed`` (numpy seeds are 32-bit
#: here: the same seed must give the same files everywhere).
MIN_PEOPLE = 100
MAX_PEOPLE = 200_000_000
MAX_SEED = 2**32 - 1


@dataclass
class SynthConfig:
    """What to generate: population size, seed, claims, mislink rates and the profile
    (population and noise rates)."""

    people: int
    seed: int
    claims: int | None = None  # insurer records; default people // 2
    mislink_rate: float = 0.01
    bank_claims: int = 0
    invalid_rate: float = 0.002
    profile: Profile = DEFAULT_PROFILE  # population and noise rates
    chunk_rows: int = 500_000
    export_layout: bool = False  # also write insurer-export.csv (pprl.synth.export)

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
        self.profile.validate()


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
    profile: str = DEFAULT_PROFILE.name
