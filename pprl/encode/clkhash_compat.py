"""clkhash's rules, mirrored per distinct value: validation, formatting, tokenizing, k.

Every place where pprl must behave exactly like clkhash for one kind of field,
comparison or insertion strategy is a dispatch table keyed by the clkhash class:

* :data:`FIELD_RULES` (``StringSpec``, ``DateSpec``, ``IntegerSpec``, ``EnumSpec``,
  ``Ignore``): which distinct values ``validate`` may reject, how values are formatted,
  what an error message says the format expected;
* :data:`TOKENIZERS` (``NgramComparison``, ``ExactComparison``): fast tokenizers;
* :data:`STRATEGY_PLANS` (``BitsPerTokenStrategy``, ``BitsPerFeatureStrategy``): k
  computed inside the kernels.

Tables are keyed by the *exact* class: a subclass may override ``validate``,
``format_value``, ``tokenize`` or ``bits_per_token``, so it gets the generic entry,
which calls clkhash's own method for every distinct value (slower, always equal).
Only public clkhash attributes and methods are used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from clkhash.comparators import AbstractComparison, ExactComparison, NgramComparison
from clkhash.field_formats import (
    BitsPerFeatureStrategy,
    BitsPerTokenStrategy,
    DateSpec,
    EnumSpec,
    FieldSpec,
    Ignore,
    IntegerSpec,
    InvalidEntryError,
    StrategySpec,
    StringSpec,
)

from pprl.encode.factorize import codepoints, first_row
from pprl.encode.kernels import MODE_PER_FEATURE, MODE_PER_TOKEN, MODE_TABLE, ngram_ids

__all__ = [
    "FIELD_RULES",
    "STRATEGY_PLANS",
    "TOKENIZERS",
    "FastDates",
    "FieldFailure",
    "FieldRules",
    "StrategyPlan",
    "Tokens",
    "describe_invalid",
    "field_rules",
    "format_values",
    "invalid_values",
    "raise_invalid",
    "strategy_plan",
    "token_kmax",
    "tokenize",
]


@dataclass
class Tokens:
    """Tokenized distinct values of one field in CSR form plus the distinct token strings."""

    ptr: np.ndarray  # int64 (m + 1,): value v's tokens are tok[ptr[v]:ptr[v + 1]]
    tok: np.ndarray  # int32 (total,): token id per occurrence
    strings: list[str]  # distinct token strings, indexed by token id


class FastDates(NamedTuple):
    """Distinct date values checked without strptime: ``ok[i]`` means value i is a valid,
    canonical date of the field's format, and then ``formatted[i]`` is its ``%Y%m%d``."""

    ok: np.ndarray
    formatted: list[str]


class FieldFailure(Exception):
    """A value of one field is invalid; carries the row so the earliest can be reported."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(row, message)
        self.row = row
        self.message = message


# --------------------------------------------------------------------------- field rules


class FieldRules:
    """How pprl mirrors clkhash for one ``FieldSpec`` class; this base is the generic
    rule (clkhash's own ``validate``/``format_value`` on every distinct value)."""

    #: whether clkhash's ``validate`` can reject anything (``Ignore``'s accepts all)
    validates = True

    def fast_dates(self, field: FieldSpec, uniq: Sequence[str]) -> FastDates | None:
        """Vectorized date check, where the field is a date of a simple format."""
        return None

    def validation_candidates(
        self, field: FieldSpec, uniq: Sequence[str], dates: FastDates | None
    ) -> Iterable[int]:
        """Indices of the distinct values ``field.validate`` might reject (a superset)."""
        return range(len(uniq))

    def formats_only_missing(self, field: FieldSpec) -> bool:
        """True when clkhash's ``format_value`` only replaces the missing-value sentinel."""
        return False

    def describe(self, field: FieldSpec) -> str:
        """What the format expected, without the offending value."""
        return "value does not match the field format"


class StringRules(FieldRules):
    """``StringSpec``: length/case limits or a regex pattern, no reformatting."""

    def validation_candidates(
        self, field: FieldSpec, uniq: Sequence[str], dates: FastDates | None
    ) -> Iterable[int]:
        # StringSpec.validate = sentinel exemption, encodability, then the regex or the
        # length and case limits: only values that can fail one of those are returned.
        assert isinstance(field, StringSpec)
        fhp = field.hashing_properties
        if fhp is None:
            return range(len(uniq))
        try:
            "".join(uniq).encode(fhp.encoding)
        except UnicodeError:
            return range(len(uniq))
        if field.regex_based:
            fullmatch = field.regex.fullmatch
            return [i for i, v in enumerate(uniq) if fullmatch(v) is None]
        if field.case != "mixed":
            return range(len(uniq))
        lo, hi = field.min_length, field.max_length
        if lo is None and hi is None:
            return ()
        lens = np.fromiter(map(len, uniq), dtype=np.int64, count=len(uniq))
        sel = np.zeros(len(uniq), dtype=bool)
        if lo is not None:
            sel |= lens < lo
        if hi is not None:
            sel |= lens > hi
        return np.flatnonzero(sel).tolist()

    def formats_only_missing(self, field: FieldSpec) -> bool:
        return True

    def describe(self, field: FieldSpec) -> str:
        assert isinstance(field, StringSpec)
        if field.regex_based:
            return f"value does not match format pattern {field.regex.pattern!r}"
        parts = []
        if field.min_length is not None:
            parts.append(f"at least {field.min_length} characters")
        if field.max_length is not None:
            parts.append(f"at most {field.max_length} characters")
        if field.case in ("upper", "lower"):
            parts.append(f"{field.case} case")
        return "value does not match format (expected " + ", ".join(parts or ["a string"]) + ")"


class DateRules(FieldRules):
    """``DateSpec``: strptime validation and ``%Y%m%d`` reformatting, vectorized for
    ``%Y-%m-%d``, ``%Y/%m/%d``, ``%Y.%m.%d`` and ``%Y%m%d``."""

    LAYOUTS: Mapping[str, str] = {"%Y-%m-%d": "-", "%Y/%m/%d": "/", "%Y.%m.%d": ".", "%Y%m%d": ""}

    def fast_dates(self, field: FieldSpec, uniq: Sequence[str]) -> FastDates | None:
        """Which distinct values are canonical, valid dates of the field's format.

        Only values with a 4-digit ASCII year >= 1000 and 2-digit month and day forming
        a real calendar date qualify: for exactly those, strptime accepts the value and
        strftime('%Y%m%d') equals the concatenated digits. Everything else (including
        missing-value sentinels) is left to clkhash's own ``validate``/``format_value``.
        None when the format is not one of the fast ones.
        """
        assert isinstance(field, DateSpec)
        sep = self.LAYOUTS.get(field.format)
        if sep is None or not uniq:
            return None
        width = 8 + 2 * len(sep)
        lens = np.fromiter(map(len, uniq), dtype=np.int64, count=len(uniq))
        ok = lens == width
        cand = [v if good else "0" * width for v, good in zip(uniq, ok.tolist(), strict=True)]
        cps = np.array(cand, dtype=f"<U{width}").view(np.uint32).reshape(len(uniq), width)
        if sep:
            digits = cps[:, [0, 1, 2, 3, 5, 6, 8, 9]]
            ok &= (cps[:, 4] == ord(sep)) & (cps[:, 7] == ord(sep))
        else:
            digits = cps
        ok &= np.all((digits >= 48) & (digits <= 57), axis=1)
        dg = digits.astype(np.int64) - 48
        y = dg[:, 0] * 1000 + dg[:, 1] * 100 + dg[:, 2] * 10 + dg[:, 3]
        m = dg[:, 4] * 10 + dg[:, 5]
        d = dg[:, 6] * 10 + dg[:, 7]
        leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
        dim = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[np.clip(m, 0, 12)]
        dim = dim + ((m == 2) & leap)
        ok &= (y >= 1000) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= dim)
        fhp = field.hashing_properties
        if fhp is not None and fhp.missing_value is not None:
            sentinel = fhp.missing_value.sentinel
            ok &= np.fromiter((v != sentinel for v in uniq), dtype=bool, count=len(uniq))
        formatted = np.ascontiguousarray(digits, dtype=np.uint32).view("<U8").ravel().tolist()
        return FastDates(ok, formatted)

    def validation_candidates(
        self, field: FieldSpec, uniq: Sequence[str], dates: FastDates | None
    ) -> Iterable[int]:
        if dates is None:
            return range(len(uniq))
        return np.flatnonzero(~dates.ok).tolist()

    def describe(self, field: FieldSpec) -> str:
        assert isinstance(field, DateSpec)
        return f"value is not a valid date in format {field.format!r}"


class IntegerRules(FieldRules):
    """``IntegerSpec``: clkhash's own validate/format (normalizes ``+65`` to ``65``)."""

    def describe(self, field: FieldSpec) -> str:
        assert isinstance(field, IntegerSpec)
        lo, hi = field.minimum, field.maximum
        rng = "" if lo is None and hi is None else f" in range [{lo}, {hi}]"
        return f"value is not a base-10 integer{rng}"


class EnumRules(FieldRules):
    """``EnumSpec``: membership (clkhash's validate), no reformatting."""

    def formats_only_missing(self, field: FieldSpec) -> bool:
        return True

    def describe(self, field: FieldSpec) -> str:
        assert isinstance(field, EnumSpec)
        return f"value is not one of the {len(field.values)} allowed enum values"


class IgnoreRules(FieldRules):
    """``Ignore``: never validated, never hashed."""

    validates = False


GENERIC_RULES = FieldRules()

FIELD_RULES: Mapping[type[FieldSpec], FieldRules] = {
    StringSpec: StringRules(),
    DateSpec: DateRules(),
    IntegerSpec: IntegerRules(),
    EnumSpec: EnumRules(),
    Ignore: IgnoreRules(),
}


def field_rules(field: FieldSpec) -> FieldRules:
    """The rules for ``field``'s exact class (generic for any other class)."""
    return FIELD_RULES.get(type(field), GENERIC_RULES)


def describe_invalid(field: FieldSpec, err: Exception | None) -> str:
    """What the field expected, without echoing the (personal) offending value."""
    if err is None:
        return "invalid value"
    msg = str(err.args[0]) if err.args else ""
    if msg.startswith("Expected entry that can be encoded"):  # FieldSpec.validate's message
        fhp = field.hashing_properties
        return f"value cannot be encoded in {fhp.encoding if fhp is not None else '?'}"
    return field_rules(field).describe(field)


def raise_invalid(field: FieldSpec, row: int, err: Exception | None) -> None:
    """Raise the failure for an invalid value at ``row`` (becomes a one-line InputError)."""
    raise FieldFailure(
        row, f"row {row}, field {field.identifier!r}: {describe_invalid(field, err)}"
    )


def invalid_values(
    field: FieldSpec, uniq: Sequence[str], dates: FastDates | None = None
) -> list[tuple[int, Exception]]:
    """Indices of distinct values that clkhash's ``field.validate`` rejects (with the error)."""
    bad: list[tuple[int, Exception]] = []
    validate = field.validate
    for i in field_rules(field).validation_candidates(field, uniq, dates):
        try:
            validate(uniq[i])
        except InvalidEntryError as e:
            bad.append((i, e))
    return bad


def format_values(
    field: FieldSpec, uniq: list[str], inv: np.ndarray, dates: FastDates | None = None
) -> tuple[list[str], FieldFailure | None]:
    """clkhash's ``format_value`` for every distinct value (missing-value replacement,
    integer normalisation, date reformatting), plus the failure at the earliest row
    whose value cannot be formatted (those values are formatted as the raw value)."""
    fhp = field.hashing_properties
    if field_rules(field).formats_only_missing(field):
        mv = fhp.missing_value if fhp is not None else None
        if mv is None:
            return uniq, None
        sentinel, repl = mv.sentinel, mv.replace_with
        return [repl if v == sentinel else v for v in uniq], None
    fmt = field.format_value
    todo: Iterable[int]
    if dates is not None:
        out = dates.formatted
        todo = np.flatnonzero(~dates.ok).tolist()
    else:
        out = list(uniq)
        todo = range(len(uniq))
    bad: list[int] = []
    err: Exception | None = None
    for i in todo:
        try:
            out[i] = fmt(uniq[i])
        except (InvalidEntryError, ValueError) as e:
            bad.append(i)
            err = e
    if bad:
        mask = np.zeros(len(uniq), dtype=bool)
        mask[bad] = True
        try:
            raise_invalid(field, int(np.flatnonzero(mask[inv])[0]), err)
        except FieldFailure as f:
            return out, f
    return out, None


# --------------------------------------------------------------------------- tokenizers


def _ngram_tokens(comp: AbstractComparison, formatted: Sequence[str]) -> Tokens | None:
    """n-gram tokens via the numba kernel (n <= 3, positional n <= 2; else None)."""
    assert isinstance(comp, NgramComparison)
    n, positional = comp.n, bool(comp.positional)
    if not 1 <= n <= (2 if positional else 3):  # 21-bit code points packed in 64 bits
        return None
    cps, starts, lens = codepoints(formatted)
    ptr, tok, rep_v, rep_s = ngram_ids(cps, starts, lens, n, positional)
    pad = " " * (n - 1)
    strings: list[str] = []
    append = strings.append
    for v, s in zip(rep_v.tolist(), rep_s.tolist(), strict=True):
        word = pad + formatted[v] + pad if n > 1 else formatted[v]
        gram = word[s : s + n]
        append(f"{s + 1} {gram}" if positional else gram)
    return Tokens(ptr, tok, strings)


def _exact_tokens(comp: AbstractComparison, formatted: Sequence[str]) -> Tokens:
    """The whole value is the one token; empty values have none."""
    nonempty = [bool(v) for v in formatted]
    ptr = np.zeros(len(formatted) + 1, dtype=np.int64)
    np.cumsum(nonempty, out=ptr[1:])
    strings = [v for v in formatted if v]
    return Tokens(ptr, np.arange(len(strings), dtype=np.int32), strings)


def _generic_tokens(comp: AbstractComparison, formatted: Sequence[str]) -> Tokens:
    """Tokens via clkhash's own ``comparator.tokenize`` (numeric, long n-grams, ...)."""
    ids: dict[str, int] = {}
    flat: list[int] = []
    ptr = [0]
    for v in formatted:
        for t in comp.tokenize(v):
            i = ids.get(t)
            if i is None:
                i = ids[t] = len(ids)
            flat.append(i)
        ptr.append(len(flat))
    return Tokens(np.asarray(ptr, dtype=np.int64), np.asarray(flat, dtype=np.int32), list(ids))


TOKENIZERS: Mapping[
    type[AbstractComparison], Callable[[AbstractComparison, Sequence[str]], Tokens | None]
] = {
    NgramComparison: _ngram_tokens,
    ExactComparison: _exact_tokens,
}


def tokenize(field: FieldSpec, formatted: Sequence[str], inv: np.ndarray) -> Tokens:
    """Tokenize distinct formatted values with the fastest path that equals clkhash.

    Raises :class:`FieldFailure` at the earliest row whose value the comparison cannot
    tokenize (e.g. a numeric comparison of a non-number).
    """
    assert field.hashing_properties is not None
    comp = field.hashing_properties.comparator
    fast = TOKENIZERS.get(type(comp))
    if fast is not None and (toks := fast(comp, formatted)) is not None:
        return toks
    try:
        return _generic_tokens(comp, formatted)
    except ValueError as e:
        for i, v in enumerate(formatted):
            try:
                list(comp.tokenize(v))
            except ValueError:
                row = first_row(inv, i)
                raise FieldFailure(
                    row,
                    f"row {row}, field {field.identifier!r}: value cannot be "
                    f"tokenized by the {type(comp).__name__} comparison",
                ) from None
        raise e


# --------------------------------------------------------------------------- strategies


class StrategyPlan(NamedTuple):
    """How the kernels choose k per token occurrence (see ``kernels.k_of``)."""

    mode: int  # MODE_PER_TOKEN, MODE_PER_FEATURE or MODE_TABLE
    param: int  # k (per token) or the bits per feature
    ks: np.ndarray  # MODE_TABLE: k per occurrence (else empty)
    kmax: int  # largest k of any occurrence


_NO_KS = np.zeros(0, dtype=np.int64)


def _table_plan(strat: StrategySpec, counts: np.ndarray) -> StrategyPlan:
    """Any strategy: clkhash's ``bits_per_token`` per value, as a per-occurrence table."""
    out = [k for c in counts.tolist() if c for k in strat.bits_per_token(int(c))]
    ks = np.maximum(np.asarray(out, dtype=np.int64), 0)
    return StrategyPlan(MODE_TABLE, 0, ks, int(ks.max()) if len(ks) else 0)


def _per_token_plan(strat: StrategySpec, counts: np.ndarray) -> StrategyPlan:
    """bitsPerToken: the same k for every token; k read through the public
    ``bits_per_token(1)``, which is ``(k,)``."""
    k = max(int(strat.bits_per_token(1)[0]), 0)
    return StrategyPlan(MODE_PER_TOKEN, k, _NO_KS, k)


def _per_feature_plan(strat: StrategySpec, counts: np.ndarray) -> StrategyPlan:
    """bitsPerFeature: ``b`` spread over a value's tokens inside the kernel.

    ``b`` is read through the public ``bits_per_token(1)``, which is
    ``(int(b / 1),)``: exactly ``b`` for integers below 2**53 (larger ones round to
    at least 2**53 and, like negative or non-integer ``b``, take the table plan,
    which reproduces clkhash's arithmetic or its error).
    """
    try:
        bpf = strat.bits_per_token(1)[0]
    except TypeError:
        return _table_plan(strat, counts)
    if not (isinstance(bpf, int) and 0 <= bpf < 2**53):
        return _table_plan(strat, counts)
    pos = counts[counts > 0]
    kmax = 0 if not len(pos) else -(-bpf // int(pos.min()))
    return StrategyPlan(MODE_PER_FEATURE, bpf, _NO_KS, kmax)


STRATEGY_PLANS: Mapping[type[StrategySpec], Callable[[StrategySpec, np.ndarray], StrategyPlan]] = {
    BitsPerTokenStrategy: _per_token_plan,
    BitsPerFeatureStrategy: _per_feature_plan,
}


def strategy_plan(field: FieldSpec, toks: Tokens) -> StrategyPlan:
    """k per token occurrence of ``field``'s strategy: computed inside the kernels for
    bitsPerToken and bitsPerFeature, a table from clkhash's ``bits_per_token`` else."""
    assert field.hashing_properties is not None
    strat = field.hashing_properties.strategy
    counts = np.diff(toks.ptr)
    return STRATEGY_PLANS.get(type(strat), _table_plan)(strat, counts)


def token_kmax(toks: Tokens, plan: StrategyPlan) -> np.ndarray:
    """Largest k of each distinct token over its occurrences (vectorized)."""
    counts = np.diff(toks.ptr)
    if plan.mode == MODE_PER_TOKEN:
        occ = np.full(len(toks.tok), plan.param, dtype=np.int64)
    elif plan.mode == MODE_PER_FEATURE:
        nz = np.maximum(counts, 1)
        j = np.arange(len(toks.tok), dtype=np.int64) - np.repeat(toks.ptr[:-1], counts)
        occ = np.repeat(plan.param // nz, counts) + (j < np.repeat(plan.param % nz, counts))
    else:
        occ = plan.ks
    kmax = np.zeros(len(toks.strings), dtype=np.int64)
    np.maximum.at(kmax, toks.tok, occ)
    return kmax
