"""``pprl demo --service``: the demo story through a local server gives the same summary
table as the file-based ``pprl demo``, and every party downloads only its own view."""

from __future__ import annotations

import threading
from pathlib import Path

from pprl_cli.main import app
from typer.testing import CliRunner


def table(output: str) -> list[str]:
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Claimed links"))
    end = next(i for i, line in enumerate(lines) if line.startswith("recall/precision"))
    return lines[start:end]


def test_the_service_demo_matches_the_file_demo(tmp_path: Path, monkeypatch) -> None:
    """Both demos use one fixed secret here: each run's fresh key draws other BLIP
    noise, which can move a borderline claim between statuses."""
    import pprl.demo

    def fixed_secret(path: Path) -> Path:
        path.write_text("5eed" * 16 + "\n", encoding="ascii")
        path.chmod(0o600)
        return path

    monkeypatch.setattr(pprl.demo, "write_secret", fixed_secret)
    args = ["demo", "--people", "1000", "--processes", "1", "--threads", "1"]
    files = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "files")])
    assert files.exit_code == 0, files.output
    before = set(threading.enumerate())
    served = CliRunner().invoke(app, [*args, "--service", "--out", str(tmp_path / "svc")])
    assert served.exit_code == 0, served.output
    assert "(pprl client results)" in served.output
    assert table(served.output) == table(files.output)
    assert "claims checked" in "\n".join(table(served.output))
    out = tmp_path / "svc"
    views = {
        str(p.relative_to(out))
        for p in out.glob("results-*/*/**/*")
        if p.is_file() and p.name != "manifest.json"
    }
    assert views == {
        "results-insurer/insurer/parties/insurer.csv",
        "results-insurer/municipality/parties/municipality.reference.csv",
        "results-bank/bank/parties/bank.csv",
        "results-bank/municipality/parties/municipality.reference.csv",
    }
    for name in ("insurer", "bank"):
        assert (out / f"verify-{name}" / "report.html").is_file()
    # the server thread is stopped
    assert not [t for t in threading.enumerate() if t not in before and t.name.startswith("pprl")]
