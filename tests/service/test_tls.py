"""``pprl serve --tls-cert F --tls-key F`` serves https://; the client trusts the server
with ``--ca-cert F``. The certificate is self-signed, made in the test."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pprl_cli.main import app
from typer.testing import CliRunner

from pprl.errors import InputError
from pprl.service import client
from pprl.service.server import tls_options
from service.helpers import free_port


def self_signed(folder: Path, name: str = "server") -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / f"{name}.crt", folder / f"{name}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def serve_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from pprl_cli.main import app; app(prog_name='pprl')", "serve",
            *args]  # fmt: skip


def test_the_server_speaks_https_and_the_client_trusts_its_ca_cert(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    data, port = tmp_path / "data", free_port()
    log = open(tmp_path / "serve.log", "w+b")  # noqa: SIM115
    proc = subprocess.Popen(
        serve_cmd("--data", str(data), "--port", str(port), "--tls-cert", str(cert),
                  "--tls-key", str(key)),
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ),
    )  # fmt: skip
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/api/v1/health", verify=trust, timeout=1).is_success:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, log.read()
            time.sleep(0.1)
        op = data / "operator.token"
        runner = CliRunner()
        create = ["campaign", "create", "c1", "--server", url, "--token-file", str(op),
                  "--reference", "city", "--claims", "ins1", "--tokens-out", str(tmp_path / "t")]  # fmt: skip
        r = runner.invoke(app, create)  # the system's authorities do not know this certificate
        assert r.exit_code == 2
        assert (
            r.output.strip()
            .splitlines()[-1]
            .endswith(
                "the server's certificate is not trusted (give its authority with --ca-cert FILE)"
            )
        )
        r = runner.invoke(app, [*create, "--ca-cert", str(cert)])
        assert r.exit_code == 0, r.output
        r = runner.invoke(
            app,
            ["client", "status", "--server", url, "--token-file", str(tmp_path / "t/ins1.token"),
             "--ca-cert", str(cert), "--json"],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        assert '"party": "ins1"' in r.output
        with pytest.raises(httpx.HTTPError):  # no plain http on the TLS port
            httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).raise_for_status()
        other, _ = self_signed(tmp_path, "other")  # the wrong authority is refused too
        r = runner.invoke(
            app,
            ["client", "status", "--server", url, "--token-file", str(tmp_path / "t/ins1.token"),
             "--ca-cert", str(other)],
        )  # fmt: skip
        assert r.exit_code == 2 and "not trusted" in r.output
    finally:
        client.use_ca_cert(None)
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_tls_options_refuse_bad_pairs_with_one_line(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    other_cert, other_key = self_signed(tmp_path, "other")
    assert tls_options(None, None) == {}
    assert tls_options(cert, key) == {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    cases = [
        ((cert, None), "--tls-cert needs --tls-key too"),
        ((None, key), "--tls-key needs --tls-cert too"),
        ((tmp_path / "nope.crt", key), f"--tls-cert {tmp_path / 'nope.crt'}: file not found"),
        ((cert, tmp_path), f"--tls-key {tmp_path}: is a folder, not a file"),
        ((cert, other_key), "not a PEM certificate and its matching unencrypted private key"),
        ((key, cert), "not a PEM certificate and its matching unencrypted private key"),
    ]
    for (c, k), message in cases:
        with pytest.raises(InputError) as err:
            tls_options(c, k)
        assert str(err.value).endswith(message) and "\n" not in str(err.value)
    if os.geteuid() != 0:  # root reads any file
        other_cert.chmod(0)
        with pytest.raises(InputError, match="not readable"):
            tls_options(other_cert, other_key)


def test_serve_refuses_one_without_the_other_before_starting(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    r = CliRunner().invoke(app, ["serve", "--data", str(tmp_path / "d"), "--tls-cert", str(cert)])
    assert r.exit_code == 2
    assert r.output.strip().splitlines()[-1].endswith("--tls-cert needs --tls-key too")
    assert not (tmp_path / "d").exists()


def test_the_client_refuses_a_bad_ca_cert_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    try:
        with pytest.raises(InputError, match=f"--ca-cert {bad}: not a PEM certificate"):
            client.use_ca_cert(bad)
        with pytest.raises(InputError, match="file not found"):
            client.use_ca_cert(tmp_path / "missing.pem")
    finally:
        client.use_ca_cert(None)
