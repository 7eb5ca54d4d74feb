"""CLK (cryptographic long-term key) encoder, bit-identical to clkhash but much faster.

clkhash hashes every token of every record in Python. Identity data repeats heavily
(surnames, given names, birth dates, postcodes) and n-grams repeat even more, so this
module works column by column:

1. factorize each column into its distinct values (numba hash table over UTF-32);
2. validate and format each *distinct* value once, with clkhash's own rules
   (vectorized fast paths for plain strings and ISO-like dates, else clkhash's code);
3. tokenize the distinct values (numba for n-grams) and give each distinct *token* an id;
4. hash each distinct token once (keyed BLAKE2b or HMAC-SHA1/MD5, exactly as clkhash);
5. set the bits of every distinct value in a packed ``uint64`` row (numba) and OR the
   rows into each record's filter; mostly-distinct columns set bits per record directly;
6. XOR-fold (numpy).

With 20,000 records or more, fields are spread over forked worker processes that
pull field jobs from a queue and write into shared memory.

Errors: the first invalid (row, field) in clkhash's order becomes an InputError that
names the row and field and what the format expected, never the value or the secret.

Bit layout: clkhash uses big-endian ``bitarray`` objects, so bit ``p`` of a filter is
bit ``7 - p % 8`` of byte ``p // 8``. The returned ``uint64`` rows hold exactly those
bytes (little-endian words), so ``arr[i].tobytes() == clk_i.tobytes()``.
"""

from __future__ import annotations

import hmac
import mmap
import os
import pickle
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from hashlib import blake2b, md5, sha1

import numba
import numpy as np
from bitarray import bitarray
from clkhash.comparators import ExactComparison, NgramComparison
from clkhash.field_formats import (
    BitsPerFeatureStrategy,
    BitsPerTokenStrategy,
    DateSpec,
    FieldSpec,
    Ignore,
    InvalidEntryError,
    StringSpec,
)
from clkhash.key_derivation import generate_key_lists
from clkhash.schema import Schema

from pprl.errors import InputError, PprlError

__all__ = ["encode_clks", "clks_to_bitarrays", "bitarrays_to_clks"]


# --------------------------------------------------------------------------- numba kernels


@numba.njit(cache=True, nogil=True)
def _ngram_ids(cps, starts, lens, n, positional):  # pragma: no cover - compiled
    """Give every n-gram occurrence of every value a dense token id (first-seen order).

    ``cps`` holds the concatenated code points of all values, value ``v`` at
    ``starts[v]:starts[v] + lens[v]``. Values are padded with ``n - 1`` spaces on both
    sides exactly as clkhash's NgramComparison does. Returns (ptr, tok, rep_v, rep_s):
    CSR offsets per value, token id per occurrence, and for each distinct token one
    (value, start) occurrence so Python can rebuild the token string.
    """
    m = lens.shape[0]
    ptr = np.zeros(m + 1, np.int64)
    for v in range(m):
        L = lens[v]
        t = 0
        if L > 0:
            t = L + n - 1
        ptr[v + 1] = ptr[v] + t
    total = ptr[m]
    tok = np.empty(total, np.int32)
    cap = 1024
    mask = np.uint64(cap - 1)
    keys = np.zeros(cap, np.uint64)
    ids = np.full(cap, -1, np.int32)
    rep_v = np.empty(total, np.int32)
    rep_s = np.empty(total, np.int32)
    nd = 0
    pad = n - 1
    mul = np.uint64(0x9E3779B97F4A7C15)
    sh = np.uint64(24)
    for v in range(m):
        L = lens[v]
        base = starts[v]
        for s in range(ptr[v + 1] - ptr[v]):
            key = np.uint64(0)
            for c in range(n):
                p = s + c - pad
                if p < 0 or p >= L:
                    ch = np.uint64(32)
                else:
                    ch = np.uint64(cps[base + p])
                key = (key << np.uint64(21)) | ch
            if positional:
                key = key | (np.uint64(s + 1) << np.uint64(42))
            i = ((key * mul) >> sh) & mask
            while True:
                cur = ids[i]
                if cur < 0:
                    ids[i] = nd
                    keys[i] = key
                    rep_v[nd] = v
                    rep_s[nd] = s
                    tok[ptr[v] + s] = nd
                    nd += 1
                    if 2 * nd > cap:  # grow and rehash
                        ncap = cap * 4
                        nmask = np.uint64(ncap - 1)
                        nkeys = np.zeros(ncap, np.uint64)
                        nids = np.full(ncap, -1, np.int32)
                        for q in range(cap):
                            if ids[q] >= 0:
                                k2 = keys[q]
                                r = ((k2 * mul) >> sh) & nmask
                                while nids[r] >= 0:
                                    r = (r + np.uint64(1)) & nmask
                                nids[r] = ids[q]
                                nkeys[r] = k2
                        cap = ncap
                        mask = nmask
                        keys = nkeys
                        ids = nids
                    break
                if keys[i] == key:
                    tok[ptr[v] + s] = cur
                    break
                i = (i + np.uint64(1)) & mask
    return ptr, tok, rep_v[:nd], rep_s[:nd]


@numba.njit(cache=True, nogil=True)
def _bit_in_word(pos):  # pragma: no cover - compiled
    """Mask of big-endian bit ``pos`` (bitarray layout) inside its little-endian uint64 word."""
    b = pos & 63
    return np.uint64(1) << np.uint64((b & 56) | (7 - (b & 7)))


@numba.njit(cache=True, nogil=True, inline="always")
def _k_of(mode, param, ks, a, t, jj):  # pragma: no cover - compiled
    """k of the jj-th of t tokens of a value whose first occurrence is at ``a``.

    mode 0: bitsPerToken (``param``); mode 1: bitsPerFeature (``param`` spread as
    clkhash's BitsPerFeatureStrategy: the first ``param % t`` tokens get one more);
    mode 2: precomputed ``ks`` per occurrence (any other strategy).
    """
    if mode == 0:
        return param
    if mode == 1:
        base = param // t
        return base + 1 if jj < param - base * t else base
    return ks[a + jj]


@numba.njit(cache=True, nogil=True)
def _set_bits_blake(
    ptr, tok, mode, param, ks, shorts, hash_l, dest, src
):  # pragma: no cover - compiled
    """blakeHash: OR the bits of value ``src[r]`` into ``dest[r]`` for every row r.

    Token t's i-th index is ``shorts[t, i] % l`` (clkhash's 16-bit slices of the
    keyed BLAKE2b output; l is a power of two so ``%`` is a mask).
    """
    lmask = np.int64(hash_l - 1)
    for r in range(src.shape[0]):
        v = src[r]
        a = ptr[v]
        t = ptr[v + 1] - a
        for jj in range(t):
            tk = tok[a + jj]
            for h in range(_k_of(mode, param, ks, a, t, jj)):
                pos = np.int64(shorts[tk, h]) & lmask
                dest[r, pos >> 6] |= _bit_in_word(pos)


@numba.njit(cache=True, nogil=True)
def _set_bits_double(
    ptr, tok, mode, param, ks, h1, h2, hash_l, dest, src
):  # pragma: no cover - compiled
    """doubleHash: OR the bits ``(h1 + i * h2) % l`` of value ``src[r]`` into ``dest[r]``."""
    for r in range(src.shape[0]):
        v = src[r]
        a = ptr[v]
        t = ptr[v + 1] - a
        for jj in range(t):
            tk = tok[a + jj]
            pos = h1[tk]
            b = h2[tk]
            for _ in range(_k_of(mode, param, ks, a, t, jj)):  # (h1 + i * h2) % l
                dest[r, pos >> 6] |= _bit_in_word(pos)
                pos += b
                if pos >= hash_l:
                    pos -= hash_l


@numba.njit(cache=True, nogil=True)
def _or_gather(out, rows, inv):  # pragma: no cover - compiled
    """``out[r] |= rows[inv[r]]`` for every record ``r`` (a field's contribution)."""
    n, w = out.shape
    for r in range(n):
        src = inv[r]
        for j in range(w):
            out[r, j] |= rows[src, j]


# --------------------------------------------------------------------------- field plans


@dataclass
class _Tokens:
    """Tokenized distinct values of one field in CSR form plus the distinct token strings."""

    ptr: np.ndarray  # int64 (m + 1,)
    tok: np.ndarray  # int32 (total,)
    strings: list[str]  # distinct token strings, indexed by token id


@numba.njit(cache=True, nogil=True)
def _factorize_kernel(cps, starts, lens):  # pragma: no cover - compiled
    """Dense ids for the strings (code-point spans) of a column, in first-seen order.

    Returns (inv, first): ``inv[r]`` is record r's distinct-value id and ``first[d]``
    the first record holding distinct value d. Open addressing on an FNV-1a hash of
    the code points, compared span by span.
    """
    n = lens.shape[0]
    inv = np.empty(n, np.int32)
    first = np.empty(n, np.int64)
    cap = 1024
    mask = np.uint64(cap - 1)
    ids = np.full(cap, -1, np.int32)
    hashes = np.zeros(cap, np.uint64)
    nd = 0
    for r in range(n):
        a = starts[r]
        L = lens[r]
        h = np.uint64(0xCBF29CE484222325)
        for q in range(a, a + L):
            h = (h ^ np.uint64(cps[q])) * np.uint64(0x100000001B3)
        h = h ^ np.uint64(L)
        i = (h * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(24) & mask
        while True:
            d = ids[i]
            if d < 0:
                ids[i] = nd
                hashes[i] = h
                first[nd] = r
                inv[r] = nd
                nd += 1
                if 2 * nd > cap:  # grow and rehash
                    ncap = cap * 4
                    nmask = np.uint64(ncap - 1)
                    nids = np.full(ncap, -1, np.int32)
                    nhashes = np.zeros(ncap, np.uint64)
                    for q in range(cap):
                        if ids[q] >= 0:
                            hq = hashes[q]
                            k = (hq * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(24) & nmask
                            while nids[k] >= 0:
                                k = (k + np.uint64(1)) & nmask
                            nids[k] = ids[q]
                            nhashes[k] = hq
                    cap = ncap
                    mask = nmask
                    ids = nids
                    hashes = nhashes
                break
            if hashes[i] == h:
                o = first[d]
                ob = starts[o]
                same = lens[o] == L
                if same:
                    for q in range(L):
                        if cps[ob + q] != cps[a + q]:
                            same = False
                            break
                if same:
                    inv[r] = d
                    break
            i = (i + np.uint64(1)) & mask
    return inv, first[:nd]


def _codepoints(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UTF-32 code points of ``values`` (one buffer) with each value's start and length.

    Values are joined with NUL separators so one C-level join/encode and one numpy scan
    give all the boundaries; if a value itself contains NUL, lengths come from ``len``.
    """
    m = len(values)
    if m:
        cps = np.frombuffer(
            "\x00".join(values).encode("utf-32-le", "surrogatepass"), dtype=np.uint32
        )
        seps = np.flatnonzero(cps == 0)
        if len(seps) == m - 1:
            starts = np.empty(m, dtype=np.int64)
            starts[0] = 0
            starts[1:] = seps + 1
            lens = np.empty(m, dtype=np.int64)
            lens[:-1] = seps - starts[:-1]
            lens[-1] = len(cps) - starts[-1]
            return cps, starts, lens
    lens = np.fromiter(map(len, values), dtype=np.int64, count=m)
    starts = np.zeros(m, dtype=np.int64)
    if m > 1:
        np.cumsum(lens[:-1], out=starts[1:])
    cps = np.frombuffer("".join(values).encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return cps, starts, lens


def _factorize(col: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Distinct values of ``col`` (first-seen order) and each record's index into them."""
    try:
        cps, starts, lens = _codepoints(col)
    except TypeError:  # not all str: hash them in Python
        index: dict = {}
        for v in col:
            if v not in index:
                index[v] = len(index)
        inv = np.fromiter(map(index.__getitem__, col), dtype=np.int32, count=len(col))
        return list(index), inv
    inv, first = _factorize_kernel(cps, starts, lens)
    return list(map(col.__getitem__, first.tolist())), inv


def _first_row(inv: np.ndarray, value_idx: int) -> int:
    """0-based index of the first record whose distinct-value index is ``value_idx``."""
    return int(np.flatnonzero(inv == value_idx)[0])


def _describe_invalid(field: FieldSpec, err: Exception) -> str:
    """What the field expected, without echoing the (personal) offending value."""
    msg = str(err.args[0]) if err.args else ""
    if msg.startswith("Expected entry that can be encoded"):
        enc = field.hashing_properties.encoding if field.hashing_properties else "?"
        return f"value cannot be encoded in {enc}"
    if isinstance(field, DateSpec):
        return f"value is not a valid date in format {field.format!r}"
    if isinstance(field, StringSpec):
        if getattr(field, "regex_based", False):
            return f"value does not match format pattern {field.regex.pattern!r}"
        parts = []
        if field.min_length is not None:
            parts.append(f"at least {field.min_length} characters")
        if field.max_length is not None:
            parts.append(f"at most {field.max_length} characters")
        if field.case in ("upper", "lower"):
            parts.append(f"{field.case} case")
        return "value does not match format (expected " + ", ".join(parts or ["a string"]) + ")"
    kind = type(field).__name__
    if kind == "IntegerSpec":
        lo, hi = getattr(field, "minimum", None), getattr(field, "maximum", None)
        rng = "" if lo is None and hi is None else f" in range [{lo}, {hi}]"
        return f"value is not a base-10 integer{rng}"
    if kind == "EnumSpec":
        return f"value is not one of the {len(field.values)} allowed enum values"
    return "value does not match the field format"


class _FieldFailure(Exception):
    """A value of one field is invalid; carries the row so the earliest can be reported."""

    def __init__(self, row: int, message: str) -> None:
        super().__init__(row, message)
        self.row = row
        self.message = message


def _raise_invalid(field: FieldSpec, row: int, err: Exception | None) -> None:
    """Raise the failure for an invalid value at ``row`` (becomes a one-line InputError)."""
    raise _FieldFailure(
        row,
        f"row {row}, field {field.identifier!r}: "
        + (_describe_invalid(field, err) if err is not None else "invalid value"),
    )


def _invalid_values(
    field: FieldSpec, uniq: list[str], date_ok: tuple[np.ndarray, list[str]] | None = None
) -> list[tuple[int, Exception]]:
    """Indices of distinct values that clkhash's ``field.validate`` rejects (with the error)."""
    bad: list[tuple[int, Exception]] = []
    fast = (
        isinstance(field, StringSpec)
        and not field.regex_based
        and field.case == "mixed"
        and field.hashing_properties is not None
    )
    if fast:
        enc = field.hashing_properties.encoding
        try:
            "".join(uniq).encode(enc)
            enc_ok = True
        except UnicodeError:
            enc_ok = False
        lo, hi = field.min_length, field.max_length
        if enc_ok and lo is None and hi is None:
            return bad
        if enc_ok:
            lens = np.fromiter(map(len, uniq), dtype=np.int64, count=len(uniq))
            sel = np.zeros(len(uniq), dtype=bool)
            if lo is not None:
                sel |= lens < lo
            if hi is not None:
                sel |= lens > hi
            cand = np.flatnonzero(sel).tolist()
        else:
            cand = range(len(uniq))
    elif isinstance(field, StringSpec) and field.regex_based and field.hashing_properties:
        # StringSpec.validate = sentinel exemption, encodability, regex fullmatch:
        # only values failing the last two can be invalid; validate() decides those.
        try:
            "".join(uniq).encode(field.hashing_properties.encoding)
            fullmatch = field.regex.fullmatch
            cand = [i for i, v in enumerate(uniq) if fullmatch(v) is None]
        except UnicodeError:
            cand = range(len(uniq))
    elif isinstance(field, DateSpec):
        cand = range(len(uniq)) if date_ok is None else np.flatnonzero(~date_ok[0]).tolist()
    else:
        cand = range(len(uniq))
    validate = field.validate
    for i in cand:
        try:
            validate(uniq[i])
        except InvalidEntryError as e:
            bad.append((i, e))
    return bad


_DATE_LAYOUTS = {"%Y-%m-%d": "-", "%Y/%m/%d": "/", "%Y.%m.%d": ".", "%Y%m%d": ""}


def _date_fast_mask(field: DateSpec, uniq: list[str]) -> tuple[np.ndarray, list[str]] | None:
    """Which distinct values are canonical, valid dates of the field's format (vectorized).

    Only formats ``%Y-%m-%d``, ``%Y/%m/%d``, ``%Y.%m.%d`` and ``%Y%m%d`` qualify, and
    only values with a 4-digit ASCII year >= 1000 and 2-digit month and day forming a
    real calendar date: for exactly those, strptime accepts the value and
    strftime('%Y%m%d') equals the concatenated digits. Everything else (including
    missing-value sentinels) is left to clkhash's own ``validate``/``format_value``.
    Returns (mask, YYYYMMDD strings, meaningful where the mask is set), or None when
    the format is not one of the fast ones.
    """
    sep = _DATE_LAYOUTS.get(field.format)
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
    return ok, formatted


def _format_values(
    field: FieldSpec,
    uniq: list[str],
    inv: np.ndarray,
    date_ok: tuple[np.ndarray, list[str]] | None = None,
) -> tuple[list[str], _FieldFailure | None]:
    """clkhash's ``format_value`` for every distinct value (missing-value replacement,
    integer normalisation, date reformatting), plus the failure at the earliest row
    whose value cannot be formatted (those values are formatted as "")."""
    fhp = field.hashing_properties
    mv = fhp.missing_value if fhp is not None else None
    if type(field) is StringSpec or type(field).__name__ == "EnumSpec":
        if mv is None:
            return uniq, None
        sentinel, repl = mv.sentinel, mv.replace_with
        return [repl if v == sentinel else v for v in uniq], None
    fmt = field.format_value
    if date_ok is not None:
        fast, out = date_ok
        todo = np.flatnonzero(~fast).tolist()
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
            _raise_invalid(field, int(np.flatnonzero(mask[inv])[0]), err)
        except _FieldFailure as f:
            return out, f
    return out, None


def _tokenize_ngram(formatted: list[str], n: int, positional: bool) -> _Tokens:
    """n-gram tokens of all distinct values via the numba kernel (n <= 3, positional n <= 2)."""
    cps, starts, lens = _codepoints(formatted)
    ptr, tok, rep_v, rep_s = _ngram_ids(cps, starts, lens, n, positional)
    pad = " " * (n - 1)
    strings: list[str] = []
    append = strings.append
    for v, s in zip(rep_v.tolist(), rep_s.tolist(), strict=True):
        word = pad + formatted[v] + pad if n > 1 else formatted[v]
        gram = word[s : s + n]
        append(f"{s + 1} {gram}" if positional else gram)
    return _Tokens(ptr, tok, strings)


def _tokenize_generic(formatted: list[str], comparator: object) -> _Tokens:
    """Tokens via clkhash's own ``comparator.tokenize`` (numeric, long n-grams, ...)."""
    ids: dict[str, int] = {}
    flat: list[int] = []
    ptr = [0]
    for v in formatted:
        for t in comparator.tokenize(v):
            i = ids.get(t)
            if i is None:
                i = ids[t] = len(ids)
            flat.append(i)
        ptr.append(len(flat))
    return _Tokens(np.asarray(ptr, dtype=np.int64), np.asarray(flat, dtype=np.int32), list(ids))


def _tokenize(field: FieldSpec, formatted: list[str], inv: np.ndarray) -> _Tokens:
    """Tokenize distinct formatted values with the fastest path that equals clkhash."""
    comp = field.hashing_properties.comparator
    if type(comp) is NgramComparison and 1 <= comp.n <= (2 if comp.positional else 3):
        return _tokenize_ngram(formatted, comp.n, bool(comp.positional))
    if type(comp) is ExactComparison:
        nonempty = [bool(v) for v in formatted]
        ptr = np.zeros(len(formatted) + 1, dtype=np.int64)
        np.cumsum(nonempty, out=ptr[1:])
        strings = [v for v in formatted if v]
        return _Tokens(ptr, np.arange(len(strings), dtype=np.int32), strings)
    try:
        return _tokenize_generic(formatted, comp)
    except ValueError as e:  # e.g. numeric comparison of a non-number
        for i, v in enumerate(formatted):
            try:
                list(comp.tokenize(v))
            except ValueError:
                row = _first_row(inv, i)
                raise _FieldFailure(
                    row,
                    f"row {row}, field {field.identifier!r}: value cannot be "
                    f"tokenized by the {type(comp).__name__} comparison",
                ) from None
        raise e


def _strategy_plan(field: FieldSpec, toks: _Tokens) -> tuple[int, int, np.ndarray, int]:
    """How k is chosen per token occurrence: (mode, param, ks, max k) for the kernels.

    bitsPerToken and bitsPerFeature are computed inside the kernels (no per-occurrence
    array); any other strategy object gets clkhash's ``bits_per_token`` per value.
    """
    strat = field.hashing_properties.strategy
    counts = np.diff(toks.ptr)
    pos = counts[counts > 0]
    empty = np.zeros(0, dtype=np.int64)
    if type(strat) is BitsPerTokenStrategy:
        k = max(int(strat._bits_per_token), 0)
        return 0, k, empty, k
    if type(strat) is BitsPerFeatureStrategy and 0 <= strat._bits_per_feature < 2**53:
        bpf = int(strat._bits_per_feature)
        kmax = 0 if not len(pos) else -(-bpf // int(pos.min()))
        return 1, bpf, empty, kmax
    out = [k for c in counts.tolist() if c for k in strat.bits_per_token(int(c))]
    ks = np.maximum(np.asarray(out, dtype=np.int64), 0)
    return 2, 0, ks, int(ks.max()) if len(ks) else 0


def _token_kmax(toks: _Tokens, mode: int, param: int, ks: np.ndarray) -> np.ndarray:
    """Largest k of each distinct token over its occurrences (vectorized)."""
    counts = np.diff(toks.ptr)
    if mode == 0:
        occ = np.full(len(toks.tok), param, dtype=np.int64)
    elif mode == 1:
        nz = np.maximum(counts, 1)
        j = np.arange(len(toks.tok), dtype=np.int64) - np.repeat(toks.ptr[:-1], counts)
        occ = np.repeat(param // nz, counts) + (j < np.repeat(param % nz, counts))
    else:
        occ = ks
    kmax = np.zeros(len(toks.strings), dtype=np.int64)
    np.maximum.at(kmax, toks.tok, occ)
    return kmax


def _blake_table(
    strings: list[str], kmax: int, key: bytes, enc: str, tok_kmax: Callable[[], np.ndarray]
) -> np.ndarray:
    """uint16 table: row t holds the 16-bit-short stream clkhash derives for token t.

    A BLAKE2b block gives 32 shorts; a token needs ``ceil(k / 32)`` blocks for its
    largest k. When some token needs more than one, ``tok_kmax()`` tells which, so the
    others are hashed once (their unused blocks are left zero and never read).
    """
    width = max(1, (kmax + 31) // 32)
    parts: list[bytes] = []
    append = parts.append
    # A keyed BLAKE2b state copied and fed the token equals blake2b(token, key=, salt=).
    bases = [blake2b(key=key, salt=str(i).encode()) for i in range(width)]
    if width == 1:
        copy = bases[0].copy
        for s in strings:
            h = copy()
            h.update(s.encode(enc))
            append(h.digest())
    else:
        zero = bytes(64)
        blocks = np.maximum((tok_kmax() + 31) // 32, 1).tolist()
        for s, nb in zip(strings, blocks, strict=True):
            b = s.encode(enc)
            for i in range(width):
                if i < nb:
                    h = bases[i].copy()
                    h.update(b)
                    append(h.digest())
                else:
                    append(zero)
    buf = b"".join(parts)
    arr = np.frombuffer(buf, dtype=np.uint16)  # clkhash unpacks struct "32H": native order
    return arr.reshape(len(strings), 32 * width)


def _double_table(
    strings: list[str], keys: Sequence[bytes], hash_l: int, enc: str, non_singular: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(h1, h2) per token: HMAC-SHA1 and HMAC-MD5 mod l, as clkhash's double hashing."""
    key_sha1, key_md5 = bytes(keys[0]), bytes(keys[1])
    digest = hmac.digest
    from_bytes = int.from_bytes
    h1 = np.empty(len(strings), dtype=np.int64)
    h2 = np.empty(len(strings), dtype=np.int64)
    for t, s in enumerate(strings):
        b = s.encode(enc)
        a = from_bytes(digest(key_sha1, b, sha1), "big") % hash_l
        c = from_bytes(digest(key_md5, b, md5), "big") % hash_l
        if non_singular:
            i = 0
            while c == 0:
                c = from_bytes(digest(key_md5, b + chr(i).encode(), md5), "big") % hash_l
                i += 1
        h1[t] = a
        h2[t] = c
    return h1, h2


def _prepare_tokens(
    field: FieldSpec, uniq: list[str], inv: np.ndarray, date_ok: tuple[np.ndarray, list[str]] | None
) -> _Tokens:
    """Format and tokenize the distinct values; raises the failure at the earliest row
    (clkhash formats and tokenizes record by record, so the earliest row wins)."""
    formatted, ffail = _format_values(field, uniq, inv, date_ok)
    try:
        toks = _tokenize(field, formatted, inv)
    except _FieldFailure as tfail:
        raise tfail if ffail is None or tfail.row < ffail.row else ffail from None
    if ffail is not None:
        raise ffail
    return toks


def _encode_field(
    field: FieldSpec,
    toks: _Tokens,
    inv: np.ndarray,
    keys: Sequence[bytes],
    hash_l: int,
    out: np.ndarray,
) -> None:
    """OR one field's bits into every record's filter in ``out``.

    Bits are set once per distinct value into packed rows that are then gathered per
    record; when most values are distinct (addresses) the rows would not be reused,
    so bits go straight into ``out`` instead.
    """
    fhp = field.hashing_properties
    mode, param, ks, kmax = _strategy_plan(field, toks)
    m = len(toks.ptr) - 1
    direct = 2 * m > len(inv)
    if direct:
        dest, src = out, inv
    else:
        dest = np.zeros((m, hash_l // 64), dtype=np.uint64)
        src = np.arange(m, dtype=np.int32)
    if fhp.hash_type == "blakeHash":
        shorts = _blake_table(
            toks.strings,
            kmax,
            bytes(keys[0]),
            fhp.encoding,
            lambda: _token_kmax(toks, mode, param, ks),
        )
        _set_bits_blake(toks.ptr, toks.tok, mode, param, ks, shorts, hash_l, dest, src)
    elif fhp.hash_type == "doubleHash":
        h1, h2 = _double_table(
            toks.strings, keys, hash_l, fhp.encoding, bool(fhp.prevent_singularity)
        )
        _set_bits_double(toks.ptr, toks.tok, mode, param, ks, h1, h2, hash_l, dest, src)
    else:
        raise InputError(f"field {field.identifier!r}: unsupported hash type {fhp.hash_type!r}")
    if not direct:
        _or_gather(out, dest, inv)


# --------------------------------------------------------------------------- public API


def _check_schema(schema: Schema, columns: Sequence[Sequence[str]]) -> int:
    """Validate schema-level constraints clkhash would trip over; returns the record count."""
    name = repr(schema)
    if schema.l <= 0 or schema.l % 64:
        raise InputError(
            f"schema {name}: filter length l={schema.l} is not a positive multiple of 64"
        )
    if schema.xor_folds < 0:
        raise InputError(f"schema {name}: xor_folds must be non-negative")
    hash_l = schema.l * 2**schema.xor_folds
    for f in schema.fields:
        fhp = f.hashing_properties
        if fhp is not None and fhp.hash_type == "blakeHash":
            if hash_l & (hash_l - 1):
                raise InputError(
                    f"schema {name}: field {f.identifier!r} uses blakeHash, which needs "
                    f"l * 2**xor_folds to be a power of two (got {hash_l})"
                )
    if len(columns) != len(schema.fields):
        raise InputError(
            f"schema {name}: got {len(columns)} columns for {len(schema.fields)} fields"
        )
    n = len(columns[0]) if columns else 0
    for f, c in zip(schema.fields, columns, strict=True):
        if len(c) != n:
            raise InputError(f"field {f.identifier!r}: column has {len(c)} values, expected {n}")
    return n


_CLKHASH_CHUNK = 10_000  # clkhash validates, then encodes, 10,000 rows at a time


def _field_job(
    fi: int,
    field: FieldSpec,
    col: Sequence[str],
    keys: Sequence[bytes],
    hash_l: int,
    validate: bool,
    out: np.ndarray,
) -> tuple[int, int, int, int, str] | None:
    """Encode one field of every record and OR it into ``out``.

    Returns None on success, else the failure clkhash would hit first in this field as
    a sortable (chunk, kind, row, field index, message): clkhash validates a whole
    10,000-row chunk (kind 0) before formatting/tokenizing it (kind 1), so the minimum
    over all fields is the error clkhash reports.
    """
    check = validate and not isinstance(field, Ignore)
    if field.hashing_properties is None and not check:
        return None
    uniq, inv = _factorize(col)
    date_ok = _date_fast_mask(field, uniq) if isinstance(field, DateSpec) else None
    vfail = None
    if check:
        bad = _invalid_values(field, uniq, date_ok)
        if bad:
            mask = np.zeros(len(uniq), dtype=bool)
            errs = {}
            for i, e in bad:
                mask[i] = True
                errs[i] = e
            row = int(np.flatnonzero(mask[inv])[0])
            try:
                _raise_invalid(field, row, errs[int(inv[row])])
            except _FieldFailure as f:
                vfail = (row // _CLKHASH_CHUNK, 0, row, fi, f.message)
    if field.hashing_properties is None:
        return vfail
    try:
        toks = _prepare_tokens(field, uniq, inv, date_ok)
    except _FieldFailure as f:
        efail = (f.row // _CLKHASH_CHUNK, 1, f.row, fi, f.message)
        return efail if vfail is None else min(efail, vfail)
    if vfail is not None:
        return vfail
    _encode_field(field, toks, inv, keys, hash_l, out)
    return None


def _job_cost(col: Sequence[str]) -> float:
    """Rough relative cost of encoding a column: records plus characters of a sample."""
    n = len(col)
    if n == 0:
        return 0.0
    step = max(1, n // 256)
    sample = [col[i] for i in range(0, n, step)]
    distinct = len(set(sample)) / len(sample)
    mean_len = sum(map(len, sample)) / len(sample)
    return n * (1.0 + 0.5 * distinct * (mean_len + 2))


def _run_forked(
    order: list[int],
    nchildren: int,
    run: Callable[[int, np.ndarray], tuple | None],
    out: np.ndarray,
) -> list[tuple]:
    """Run field jobs in this process and ``nchildren`` forked ones, pulling from a queue.

    The job ids (most expensive first) sit in a pipe written before forking; every
    process reads one id at a time, so the load balances itself. Forking shares the
    loaded columns and compiled kernels without pickling; each child ORs its fields
    into its own shared-memory buffer, which the parent ORs into ``out``. Failures and
    unexpected exceptions come back pickled over a per-child pipe.
    """
    n, w = out.shape
    nbytes = max(n * w * 8, 8)
    qr, qw = os.pipe()
    os.write(qw, b"".join(struct.pack("<H", j) for j in order))
    os.close(qw)

    def drain(buf: np.ndarray) -> tuple[list[tuple], bool]:
        """Run queued jobs into ``buf`` until the queue is empty."""
        fails: list[tuple] = []
        did = False
        while len(b := os.read(qr, 2)) == 2:
            did = True
            r = run(struct.unpack("<H", b)[0], buf)
            if r is not None:
                fails.append(r)
        return fails, did

    children = []
    try:
        for _ in range(nchildren):
            shm = mmap.mmap(-1, nbytes)
            rfd, wfd = os.pipe()
            pid = os.fork()
            if pid == 0:  # child: never returns
                code = 0
                try:
                    os.close(rfd)
                    res: object = drain(
                        np.frombuffer(shm, dtype=np.uint64, count=n * w).reshape(n, w)
                    )
                except BaseException as e:  # noqa: BLE001 - shipped to the parent
                    res = e if isinstance(e, PprlError) else RuntimeError(repr(e))
                    code = 1
                try:
                    with os.fdopen(wfd, "wb") as fh:
                        fh.write(pickle.dumps(res))
                finally:
                    os._exit(code)
            os.close(wfd)
            children.append((pid, rfd, shm))
        failures: list[tuple] = []
        error: BaseException | None = None
        try:
            failures = drain(out)[0]
        except BaseException as e:  # noqa: BLE001 - re-raised after reaping children
            error = e
    finally:
        os.close(qr)
    for pid, rfd, shm in children:
        with os.fdopen(rfd, "rb") as fh:
            data = fh.read()
        os.waitpid(pid, 0)
        res = pickle.loads(data) if data else RuntimeError("encoder worker process died")
        if isinstance(res, BaseException):
            error = error or res
            continue
        fails, did = res
        failures.extend(fails)
        if did and error is None:
            out |= np.frombuffer(shm, dtype=np.uint64, count=n * w).reshape(n, w)
    if error is not None:
        raise error
    return failures


def encode_clks(
    schema: Schema,
    columns: Sequence[Sequence[str]],
    secret: str,
    *,
    workers: int | None = None,
    validate: bool = True,
    progress: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Encode records into CLKs bit-identical to ``clkhash.clk.generate_clks``.

    ``columns[i]`` holds the string values of ``schema.fields[i]`` for every record
    (ignored fields' columns are present but unused). Returns a C-contiguous uint64
    array (n, l // 64) whose row bytes equal clkhash's ``bitarray.tobytes()``.
    ``workers`` is the number of processes (None: the CPUs not already busy, see
    ``idle_cpus``; 1: this process only); fields are spread over forked workers
    when there are enough records (>= 20,000) to pay for the fork.
    ``progress`` is called with counts of finished records (a share per finished
    field in this process, the rest at the end) summing to n.
    Raises :class:`InputError` for bad schemas and (when ``validate``) invalid values;
    messages name the earliest offending row and its field, never the secret.
    """
    n = _check_schema(schema, columns)
    hash_l = schema.l * 2**schema.xor_folds
    nwords = hash_l // 64
    keys = generate_key_lists(
        secret,
        len(schema.fields),
        key_size=schema.kdf_key_size,
        salt=schema.kdf_salt,
        info=schema.kdf_info,
        kdf=schema.kdf_type,
        hash_algo=schema.kdf_hash,
    )
    fields = schema.fields
    for f, k in zip(fields, keys, strict=True):
        if f.hashing_properties is not None and f.hashing_properties.hash_type == "blakeHash":
            if len(k[0]) > 64:
                raise InputError(
                    f"schema {schema!r}: field {f.identifier!r} uses blakeHash, which needs "
                    f"keys of at most 64 bytes (kdf keySize is {len(k[0])})"
                )
    jobs = [
        i
        for i, f in enumerate(fields)
        if f.hashing_properties is not None or (validate and not isinstance(f, Ignore))
    ]

    parent = os.getpid()
    reported = 0

    def run(j: int, buf: np.ndarray) -> tuple | None:
        """Encode field ``j`` into ``buf``; in this process, report a share of progress."""
        nonlocal reported
        res = _field_job(j, fields[j], columns[j], keys[j], hash_l, validate, buf)
        if progress is not None and os.getpid() == parent and jobs:
            step = min(n // len(jobs), n - reported)
            if step > 0:
                reported += step
                progress(step)
        return res

    out = np.zeros((n, nwords), dtype=np.uint64)
    nproc = min(workers if workers is not None else idle_cpus(), len(jobs))
    parallel = (
        nproc > 1
        and n >= _PARALLEL_MIN_RECORDS
        and hasattr(os, "fork")
        and threading.active_count() == 1
    )
    if parallel:
        order = sorted(jobs, key=lambda j: -_job_cost(columns[j]))
        failures = _run_forked(order, nproc - 1, run, out)
    else:
        failures = [r for j in jobs if (r := run(j, out)) is not None]
    if failures:
        raise InputError(min(failures)[4])
    for _ in range(schema.xor_folds):
        half = out.shape[1] // 2
        out = out[:, :half] ^ out[:, half:]
    out = np.ascontiguousarray(out)
    if progress is not None and n > reported:
        progress(n - reported)
    return out


_PARALLEL_MIN_RECORDS = 20_000


def idle_cpus() -> int:
    """CPUs this process may use that are not already busy (default ``workers``).

    A second process only pays off when a core is free: on a loaded machine forking
    just adds contention, so the 1-minute load average (which includes this process
    when it is busy) is subtracted from the usable CPUs.
    """
    try:
        ncpu = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        ncpu = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    return max(1, min(ncpu, int(ncpu + 1.0 - load)))


def clks_to_bitarrays(clks: np.ndarray) -> list[bitarray]:
    """Convert packed uint64 CLKs to clkhash-style big-endian bitarrays (for interop)."""
    arr = np.ascontiguousarray(clks, dtype="<u8")
    out = []
    for row in arr:
        ba = bitarray(endian="big")
        ba.frombytes(row.tobytes())
        out.append(ba)
    return out


def bitarrays_to_clks(bas: Sequence[bitarray]) -> np.ndarray:
    """Convert clkhash bitarrays (length a multiple of 64) to a packed uint64 array."""
    if not len(bas):
        return np.zeros((0, 0), dtype=np.uint64)
    nbits = len(bas[0])
    if nbits % 64:
        raise InputError(f"bitarray length {nbits} is not a multiple of 64")
    buf = bytearray()
    for i, ba in enumerate(bas):
        if len(ba) != nbits:
            raise InputError(f"bitarray {i} has length {len(ba)}, expected {nbits}")
        if ba.endian() != "big":
            ba = bitarray(ba, endian="big")
        buf += ba.tobytes()
    return np.frombuffer(bytes(buf), dtype="<u8").reshape(len(bas), nbits // 64).copy()
