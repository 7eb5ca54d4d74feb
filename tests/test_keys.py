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
