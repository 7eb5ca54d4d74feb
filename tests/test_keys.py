"""Secret files and derived keys."""

from __future__ import annotations

import stat

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pprl.errors import InputError
from pprl.keys import generate_secret, load_secret, pseudonym, write_secret


def test_keygen_writes_64_hex_with_mode_0600(tmp_path):
    path = write_secret(tmp_path / "k")
    text = path.read_text().strip()
    assert len(text) == 64 and int(text, 16) >= 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_refuses_to_overwrite(tmp_path):
    path = tmp_path / "k"
    path.write_text("keep me")
    with pytest.raises(InputError, match="exists"):
        write_secret(path)
    assert path.read_text() == "keep me"


def test_secrets_are_random():
    assert generate_secret() != generate_secret()


def test_derived_keys_are_independent(tmp_path):
    secret = load_secret(write_secret(tmp_path / "k"))
    keys = {secret.pseudonym_key, secret.block_key, bytes.fromhex(secret.clk_secret)}
    assert len(keys) == 3
    assert len(secret.fingerprint) == 16
    assert secret.fingerprint not in secret.clk_secret


def test_secret_never_in_repr(tmp_path):
    secret = load_secret(write_secret(tmp_path / "k"))
    assert secret.clk_secret not in repr(secret)
    assert secret.clk_secret not in str(secret)
    assert secret.clk_secret not in f"{secret!r} {secret}"


def test_same_secret_same_fingerprint(tmp_path):
    a = write_secret(tmp_path / "a")
    b = tmp_path / "b"
    b.write_text(a.read_text().upper() + "\n\n")
    assert load_secret(a).fingerprint == load_secret(b).fingerprint


@pytest.mark.parametrize("content", [b"", b"abc", b"zz" * 32, b"\xff\xfe" * 40, b"0" * 63])
def test_malformed_key_file_rejected_without_leaking(tmp_path, content):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_secret(path)
    assert str(path) in str(info.value)
    if content:
        assert content.decode("latin-1") not in str(info.value)


def test_missing_key_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_secret(tmp_path / "nope")


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_pseudonym_is_keyed_and_deterministic(number):
    k1, k2 = b"\x01" * 32, b"\x02" * 32
    assert pseudonym(k1, number) == pseudonym(k1, number)
    assert pseudonym(k1, number) != pseudonym(k2, number)
    assert len(pseudonym(k1, number)) == 32


# ----------------------------------------------------- key files as untrusted input (#12)

import os  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402

from pprl.keys import MAX_KEY_FILE_BYTES, key_file_exposure  # noqa: E402


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o602, 0o610])
def test_group_or_other_access_warns_and_strict_refuses(tmp_path, mode):
    path = write_secret(tmp_path / "k")
    path.chmod(mode)
    warning = key_file_exposure(path)
    assert warning is not None and str(path) in warning and f"{mode:04o}" in warning
    assert path.read_text().strip() not in warning
    assert load_secret(path).fingerprint  # loads, the caller shows the warning
    with pytest.raises(InputError, match="group or other users .*--strict"):
        load_secret(path, strict=True)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_key_file_has_no_warning(tmp_path, mode):
    path = write_secret(tmp_path / "k")
    path.chmod(mode)
    assert key_file_exposure(path) is None
    assert load_secret(path, strict=True).fingerprint


def test_dev_zero_is_refused_unread():
    started = time.monotonic()
    with pytest.raises(InputError, match="/dev/zero: not a regular file"):
        load_secret("/dev/zero")
    assert time.monotonic() - started < 5


def test_directory_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a regular file"):
        load_secret(tmp_path)


@pytest.mark.parametrize("size", [MAX_KEY_FILE_BYTES + 1, 2048, 4 << 30])
def test_large_key_file_is_refused_after_reading_at_most_1_kib(tmp_path, size, monkeypatch):
    """A 2 KiB file, or a sparse 4 GiB one, is refused; never read whole."""
    path = tmp_path / "big.key"
    with open(path, "wb") as fh:
        fh.write((generate_secret() + "\n").encode())
        fh.truncate(size)
    reads = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real_read(fd, n))
    with pytest.raises(InputError, match=f"larger than {MAX_KEY_FILE_BYTES} bytes"):
        load_secret(path)
    assert sum(reads) <= MAX_KEY_FILE_BYTES + 1


def test_key_of_exactly_1_kib_with_padding_loads(tmp_path):
    path = tmp_path / "k"
    secret = generate_secret()
    path.write_bytes((secret + "\n").encode().ljust(MAX_KEY_FILE_BYTES, b" "))
    assert load_secret(path).clk_secret == secret


def test_secret_from_a_pipe(tmp_path):
    """``--secret <(vault read ...)``: a FIFO is read, its writer may be slow."""
    path = tmp_path / "fifo"
    os.mkfifo(path)
    secret = generate_secret()

    def writer() -> None:
        with open(path, "w") as fh:
            time.sleep(0.2)
            fh.write(secret + "\n")

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.1)  # the writer is waiting in open() for a reader
    try:
        assert load_secret(path).clk_secret == secret
    finally:
        thread.join(timeout=10)


def test_fifo_without_writer_does_not_hang(tmp_path, monkeypatch):
    """A pipe nobody writes to is given up after PIPE_WAIT_SECONDS (here 1 s)."""
    import pprl.keys

    monkeypatch.setattr(pprl.keys, "PIPE_WAIT_SECONDS", 1.0)
    path = tmp_path / "fifo"
    os.mkfifo(path)
    started = time.monotonic()
    with pytest.raises(InputError, match="no secret arrived within 1 s"):
        load_secret(path)
    assert time.monotonic() - started < 5
