"""Normalizers for a whole column of distinct values held as an Arrow string array,
without a Python string per raw value; each gives exactly what its per-value
normalizer gives (:data:`ARRAY_NORMALIZERS`).

Postcodes in their usual forms are read from the bytes. Addresses are normalized with
one :func:`~pprl.normalize.addresses.address` call per *digit template*, the value's
own digits put back by a compiled kernel.

Why this is exact is argued beside :func:`pprl.normalize.addresses.many_addresses` (the
same method on a list of strings). Here :func:`_templates` replaces each digit run by '0',
Arrow dictionary-encodes the templates, and :func:`_fill` copies each value's
digit runs, in order and with full-width digits made ASCII, into its template's
normalized form, whose ASCII digits are exactly one per run. Values without digits,
and values whose template made digits, go through ``address`` one by one.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pprl.normalize.addresses import address, normalized_template
from pprl.normalize.postcodes import postcode
from pprl.numba_cache import CACHE

__all__ = ["ARRAY_NORMALIZERS", "address_array", "postcode_array"]


@numba.njit(cache=CACHE, nogil=True)
def _templates(data, offsets):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """UTF-8 bytes and offsets of every value's digit template: each maximal run of
    ASCII or full-width digits replaced by one '0' (``re.sub(DIGIT_RUN, "0", v)``)."""
    n = len(offsets) - 1
    out = np.empty(offsets[n] - offsets[0], np.uint8)
    out_off = np.zeros(n + 1, np.int64)
    q = 0
    for i in range(n):
        p = offsets[i]
        end = offsets[i + 1]
        in_run = False
        while p < end:
            c = data[p]
            w = 0
            if 48 <= c <= 57:
                w = 1
            elif c == 0xEF and p + 2 < end and data[p + 1] == 0xBC and 0x90 <= data[p + 2] <= 0x99:
                w = 3
            if w:
                if not in_run:
                    out[q] = 48
                    q += 1
                    in_run = True
                p += w
            else:
                out[q] = c
                q += 1
                p += 1
                in_run = False
        out_off[i + 1] = q
    return out[:q], out_off


@numba.njit(cache=CACHE, nogil=True)
def _fill(data, offsets, tid, fmt_data, fmt_offsets, fmt_runs):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """UTF-8 bytes and offsets of every value whose template id ``tid[i]`` is >= 0: its
    template's normalized bytes with the k-th ASCII digit replaced by the value's k-th
    digit run (full-width digits, EF BC 90..99, as ASCII). Other values come out empty.

    A byte-wise scan is safe in UTF-8: 0xEF only starts a character, and the bytes of
    other characters are never ASCII digits. (Written without helper calls: numba
    compiled those about ten times slower here.)
    """
    n = len(tid)
    out_off = np.zeros(n + 1, np.int64)
    for i in range(n):
        t = tid[i]
        size = 0
        if t >= 0:
            digits = 0
            p = offsets[i]
            end = offsets[i + 1]
            while p < end:
                b = data[p]
                if 48 <= b <= 57:
                    digits += 1
                    p += 1
                elif (
                    b == 0xEF
                    and p + 2 < end
                    and data[p + 1] == 0xBC
                    and 0x90 <= data[p + 2] <= 0x99
                ):
                    digits += 1
                    p += 3
                else:
                    p += 1
            size = fmt_offsets[t + 1] - fmt_offsets[t] - fmt_runs[t] + digits
        out_off[i + 1] = out_off[i] + size
    out = np.empty(out_off[n], np.uint8)
    for i in range(n):
        t = tid[i]
        if t < 0:
            continue
        q = out_off[i]
        p = offsets[i]
        end = offsets[i + 1]
        for k in range(fmt_offsets[t], fmt_offsets[t + 1]):
            b = fmt_data[k]
            if b < 48 or b > 57:
                out[q] = b
                q += 1
                continue
            started = False  # copy the value's next digit run
            while p < end:
                c = data[p]
                if 48 <= c <= 57:
                    out[q] = c
                    q += 1
                    p += 1
                    started = True
                elif (
                    c == 0xEF
                    and p + 2 < end
                    and data[p + 1] == 0xBC
                    and 0x90 <= data[p + 2] <= 0x99
                ):
                    out[q] = data[p + 2] - 0x60  # U+FF10..U+FF19 -> '0'..'9'
                    q += 1
                    p += 3
                    started = True
                elif started:
                    break
                else:
                    p += 1
    return out, out_off


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """UTF-8 bytes and n + 1 int64 offsets of a string array without nulls."""
    buffers = arr.buffers()
    wide = pa.types.is_large_string(arr.type)
    offsets = np.frombuffer(
        buffers[1], dtype=np.int64 if wide else np.int32, count=arr.offset + len(arr) + 1
    )[arr.offset :].astype(np.int64)
    data = buffers[2]
    if data is None or not data.size:
        return np.zeros(1, np.uint8), offsets
    return np.frombuffer(data, dtype=np.uint8), offsets


def address_array(arr: pa.Array) -> pa.Array:
    """``address`` of every value of an Arrow string array (nulls read as ''), as an
    Arrow string array (null: no address), one ``address`` call per digit template."""
    arr = _no_nulls(arr)
    n = len(arr)
    if not n:
        return pa.array([], type=pa.large_string())
    data, offsets = _buffers(arr)
    tdata, toff = _templates(data, offsets)
    templates = pc.dictionary_encode(
        pa.LargeStringArray.from_buffers(n, pa.py_buffer(toff), pa.py_buffer(tdata))
    )
    normalized: list[bytes] = []
    runs_of: list[int] = []
    for template in templates.dictionary.to_pylist():
        runs = template.count("0")  # every ASCII digit of a template is a run's '0'
        done = normalized_template(template, runs) if runs else None
        normalized.append(b"" if done is None else done.encode("utf-8"))
        runs_of.append(runs if done is not None else -1)
    usable = np.array(runs_of, dtype=np.int64)
    ids = templates.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    tid = np.where(usable[ids] >= 0, ids, -1)
    lengths = np.fromiter(map(len, normalized), dtype=np.int64, count=len(normalized))
    fmt_offsets = np.zeros(len(normalized) + 1, dtype=np.int64)
    np.cumsum(lengths, out=fmt_offsets[1:])
    fmt_data = np.frombuffer(b"".join(normalized) or b"\0", dtype=np.uint8)
    out, out_off = _fill(data, offsets, tid, fmt_data, fmt_offsets, np.maximum(usable, 0))
    filled = pa.LargeStringArray.from_buffers(n, pa.py_buffer(out_off), pa.py_buffer(out))
    rest = np.flatnonzero(tid < 0)
    if not len(rest):
        return filled
    extra = [address(v) for v in arr.take(rest).to_pylist()]
    return _with(filled, rest, pa.array(extra, type=pa.large_string()))


def postcode_array(arr: pa.Array) -> pa.Array:
    """``postcode`` of every value of an Arrow string array (nulls read as ''), as an
    Arrow string array (null: no postcode). The usual forms, seven ASCII digits and
    ``NNN-NNNN``, are read from the bytes (exactly the normalizer's own fast path);
    only the others go through :func:`~pprl.normalize.postcodes.postcode`."""
    arr = _no_nulls(arr)
    m = len(arr)
    data, offsets = _buffers(arr)
    starts, lens = offsets[:-1], np.diff(offsets)
    digits = np.zeros((m, 7), dtype=np.uint8)
    ok = np.zeros(m, dtype=bool)
    for size, where in ((7, np.arange(7)), (8, np.array([0, 1, 2, 4, 5, 6, 7]))):
        rows = np.flatnonzero(lens == size)
        if not len(rows):
            continue
        block = data[starts[rows, None] + where]
        clean = ((block - np.uint8(48)) < 10).all(axis=1)  # bytes below '0' wrap past 10
        if size == 8:
            clean &= data[starts[rows] + 3] == ord("-")
        digits[rows[clean]] = block[clean]
        ok[rows[clean]] = True
    rest = np.flatnonzero(~ok)
    for j, value in zip(rest.tolist(), arr.take(rest).to_pylist(), strict=True):
        code = postcode(value)
        if code is not None:
            digits[j] = np.frombuffer(code.encode("ascii"), dtype=np.uint8)
            ok[j] = True
    return pa.StringArray.from_buffers(
        m,
        pa.py_buffer(np.arange(m + 1, dtype=np.int32) * 7),
        pa.py_buffer(digits.reshape(-1)),
        pa.py_buffer(np.packbits(ok, bitorder="little")),
        null_count=int(m - ok.sum()),
    )


def _no_nulls(arr: pa.Array) -> pa.Array:
    """``arr`` with nulls as '' (the CSV reader makes none; lists may)."""
    return pc.fill_null(arr, "") if arr.null_count else arr


def _with(base: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """``base`` with its entries at ``rows`` replaced by ``values``, in order."""
    n = len(base)
    index = np.arange(n, dtype=np.int64)
    index[rows] = n + np.arange(len(rows), dtype=np.int64)
    return pa.concat_arrays([base, values]).take(pa.array(index))


#: normalizers that take a whole Arrow string array of distinct values and return the
#: normalized values as an Arrow string array (null: blank or unparseable), exactly
#: what the per-value normalizer of the same name gives
ARRAY_NORMALIZERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "address": address_array,
    "postcode": postcode_array,
}
