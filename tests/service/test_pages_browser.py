"""The web pages in a real headless browser (Debian's chromium and chromium-driver,
driven by selenium) against a real ``pprl serve`` on loopback: a party enters its token,
sees its status and downloads its file, whose digest matches the result set's manifest;
the operator sees the campaign and opens the report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
from blake3 import blake3

from service.helpers import auth, running_server, verifiable_files

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
API = "/api/v1"
WAIT_S = 30

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file() or not Path(CHROMEDRIVER).is_file(),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium "
    "chromium-driver; .ci/run installs them)",
)


def _until(what: str, check, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture()
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as DriverService

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(options=options, service=DriverService(CHROMEDRIVER))
    driver.set_page_load_timeout(WAIT_S)
    try:
        yield driver, downloads
    finally:
        driver.quit()


def test_a_party_signs_in_sees_its_status_and_downloads_its_file(tmp_path, browser):
    from selenium.webdriver.common.by import By

    driver, downloads = browser
    data = tmp_path / "data"
    with running_server(data, None, tmp_path / "serve.log") as (url, _, _):
        operator = (data / "operator.token").read_text().strip()
        with httpx.Client(base_url=url, timeout=WAIT_S) as http:
            r = http.post(
                f"{API}/campaigns",
                json={"name": "c1", "reference": "city", "claims": ["ins1", "ins2"]},
                headers=auth(operator),
            )
            assert r.status_code == 201, r.text
            tokens = r.json()["tokens"]
            for party, path in verifiable_files(tmp_path).items():
                r = http.put(
                    f"{API}/upload",
                    content=path.read_bytes(),
                    headers={**auth(tokens[party]), "X-Pprl-Filename": path.name},
                )
                assert r.status_code == 200, r.text
            assert http.post(f"{API}/campaigns/c1/run", headers=auth(operator)).status_code == 202

            def ready() -> bool:
                r = http.get(f"{API}/status", headers=auth(tokens["ins1"]))
                return bool(r.json()["results_ready"])

            _until("the job to finish", ready)
            listing = http.get(f"{API}/results", headers=auth(tokens["ins1"])).json()
        [own] = listing["files"]
        assert own["path"] == "parties/ins1.csv"

        driver.get(f"{url}/")
        field = driver.find_element(By.ID, "token-party")
        field.send_keys(tokens["ins1"])
        field.submit()
        _until("the party page", lambda: driver.current_url == f"{url}/party")
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Your campaign" in page and "c1" in page and "ins1" in page
        assert "ins1.parquet" in page and "ready" in page
        assert tokens["ins1"] not in driver.page_source
        cookie = driver.get_cookie("pprl_session")
        assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert tokens["ins1"] not in cookie["value"]

        driver.find_element(By.XPATH, "//button[text()='Download']").click()
        target = downloads / "ins1.csv"
        _until(
            "the download", lambda: target.is_file() and not list(downloads.glob("*.crdownload"))
        )
        assert blake3(target.read_bytes()).hexdigest() == own["blake3"]

        driver.delete_all_cookies()
        driver.get(f"{url}/")
        field = driver.find_element(By.ID, "token-operator")
        field.send_keys(operator)
        field.submit()
        _until("the operator page", lambda: driver.current_url == f"{url}/operator")
        assert "done" in driver.find_element(By.TAG_NAME, "body").text
        driver.find_element(By.PARTIAL_LINK_TEXT, "Report").click()
        _until("the report", lambda: "/operator/report" in driver.current_url)
        assert (data / "campaigns").is_dir()
        assert driver.title  # the report rendered as a document under its CSP
