"""The status page in a real browser: headless Chromium, gunicorn, RabbitMQ, a poll worker.

Sign in with a token → subscribe to a channel of the local fake host → its
first poll catalogs it → "Poll now" finds its new upload → another user's
channel and videos appear nowhere. Chromium is Debian's (`chromium`,
`chromium-driver`, which .ci/run installs), driven by Selenium with the
driver's path given, so nothing is downloaded; its flags keep it on loopback.
Set TUBEPOLLER_UPDATE_SCREENSHOT=1 to refresh docs/status-page.png.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.cluster import Cluster
from tests.support.feedserver import FeedServer
from tests.support.procs import ROOT, wait_for

pytestmark = [pytest.mark.rabbitmq, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "docs" / "status-page.png"
# Nothing but loopback: no proxy, no name resolves but 127.0.0.1, no update
# checks, no field trials, no sign-in to Google, no crash reports.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-proxy-server",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-client-side-phishing-detection",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    "--metrics-recording-only",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--window-size=1400,1000",
)


@pytest.fixture
def gunicorn_workers() -> int:
    """Two workers, as shipped: a session one signs must be good in the other."""
    return 2


@pytest.fixture
def chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A headless Chromium under chromedriver, both Debian's; skips locally when missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        message = f"{', '.join(missing)} missing: apt-get install chromium chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    monkeypatch.setenv("SE_OFFLINE", "true")  # Selenium Manager must not look anything up
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium'}"):
        options.add_argument(flag)
    service = Service(executable_path=str(CHROMEDRIVER), log_output=str(tmp_path / "driver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def test_sign_in_subscribe_poll_now_and_see_only_ones_own_channels(
    cluster: Cluster, gunicorn: str, feeds: FeedServer, chromium: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base = gunicorn.removesuffix("/api")
    cluster.start_worker("poll")
    alice = cluster.tubepoller("user", "add", "alice").stdout.splitlines()[-1]
    bob = cluster.tubepoller("user", "add", "bob").stdout.splitlines()[-1]
    mine, theirs = feeds.add_channel(), feeds.add_channel()
    for day in (3, 2):
        mine.upload(f"Alice's upload {day} days ago", published=time.time() - 86400 * day)
    theirs.upload("Bob's private upload", published=time.time() - 86400)
    answer = httpx.post(
        f"{gunicorn}/channels",
        headers={"Authorization": f"Bearer {bob}"},
        json={"url": f"https://www.youtube.com/channel/{theirs.id}", "mode": "catalog_only"},
    )
    assert answer.status_code == 201, answer.text

    def text() -> str:
        return chromium.find_element(By.TAG_NAME, "body").text

    def press(selector: str) -> None:
        """Click a form's button and wait for the page its 303 leads to."""
        old = chromium.find_element(By.TAG_NAME, "html")
        chromium.find_element(By.CSS_SELECTOR, selector).click()
        WebDriverWait(chromium, 30).until(expected_conditions.staleness_of(old))

    def reload_until(what: str, condition: Any) -> None:
        def shown() -> bool:
            chromium.get(f"{base}/")
            return condition(text())

        wait_for(shown, 60, what)

    chromium.get(f"{base}/")
    chromium.find_element(By.NAME, "token").send_keys(alice)
    press("form.signin button")
    assert "Signed in as alice" in text(), text()

    chromium.find_element(By.ID, "url").send_keys(f"https://www.youtube.com/channel/{mine.id}")
    Select(chromium.find_element(By.NAME, "mode")).select_by_value("catalog_only")
    press("#subscribe button")
    assert "Subscribed to" in text(), text()
    reload_until("the first poll to catalog the channel", lambda t: "Alice's upload 2" in t)

    mine.upload("A brand new upload")
    press("button.poll")
    assert "is queued" in text() or "already being polled" in text(), text()
    reload_until("poll now to find the new upload", lambda t: "A brand new upload" in t)

    page = chromium.page_source
    assert "Channel 0" in page and mine.id in page
    assert theirs.id not in page and "Channel 1" not in page and "Bob's" not in page
    assert chromium.find_element(By.ID, "channels").text.count("Poll now") == 1
    chromium.save_screenshot(str(tmp_path / "status-page.png"))
    assert (tmp_path / "status-page.png").stat().st_size > 10_000
    if os.environ.get("TUBEPOLLER_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(tmp_path / "status-page.png", SCREENSHOT)

    press("form.signout button")
    assert chromium.find_elements(By.NAME, "token"), "signed out: the sign-in form again"
    assert "Alice's upload" not in text()
