"""The studio page in a real browser: headless Chromium (Debian ``chromium`` + ``chromium-driver``) driven by Selenium.

A server on 127.0.0.1 (a free port, the tiny fitted models) serves the page;
the test changes inputs and sees the image update with the right pixel size,
sees a clear message for a bad input, and downloads a PNG. Without Chromium the
test is skipped, except under ``CI=true`` where it fails (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from studio_models import shared_inputs

from digitgen.studio.app import create_app
from digitgen.studio.registry import Paths, Registry
from digitgen.studio.server import bind, make_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")


def _require_browser() -> None:
    missing = [name for name, path in (("chromium", CHROMIUM), ("chromedriver (chromium-driver)", DRIVER)) if path is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium (requirements.txt)")
    if missing:
        message = f"the browser test needs {', '.join(missing)}: apt-get install -y chromium chromium-driver"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (CI=true: failing rather than skipping)")
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory, mnist_arrays):
    _require_browser()
    inputs = shared_inputs(tmp_path_factory, mnist_arrays)
    registry = Registry(Paths(models=inputs["models"], banks=inputs["banks"], data=inputs["data"], models_given=True, banks_given=True))
    registry.load()
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    ready = threading.Event()
    uvicorn_server = make_server(create_app(registry), log_level="warning", on_ready=ready.set)
    thread = threading.Thread(target=uvicorn_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert ready.wait(60), "the studio did not start"
    yield f"http://127.0.0.1:{port}"
    uvicorn_server.should_exit = True
    thread.join(30)
    sock.close()
    assert not thread.is_alive()


@pytest.fixture(scope="module")
def browser(server, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1400,2200",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    yield driver
    driver.quit()


def _wait(condition, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _natural_size(driver, element_id: str) -> tuple[int, int]:
    return tuple(driver.execute_script(f"const i = document.getElementById('{element_id}'); return i.complete ? [i.naturalWidth, i.naturalHeight] : [0, 0];"))


def _type(driver, element_id: str, text: str) -> None:
    element = driver.find_element("id", element_id)
    element.clear()
    element.send_keys(text)


def test_page_updates_reports_bad_input_and_downloads(server, browser):
    browser.get(server + "/")
    _wait(lambda: browser.find_element("tag name", "body").get_attribute("data-ready") == "1", 60, "the page to load its three panels")
    assert browser.title == "digitgen studio"
    assert _natural_size(browser, "seq-image") == (200, 28)
    assert browser.find_element("id", "seq-command").text.startswith("digitgen sequence 2934 0 10 200 --seed 1")
    assert _natural_size(browser, "dig-image") == (238, 58)  # 16 KDE digits of 7, 8 per row
    assert browser.find_element("id", "amb-kept").get_attribute("src").startswith("data:image/png")

    # a new width: the picture is redrawn at that size, without reloading the page
    browser.execute_script("window.notReloaded = true;")
    _type(browser, "seq-width", "160")
    _wait(lambda: _natural_size(browser, "seq-image") == (160, 28), what="the 160-pixel sequence")
    assert "digitgen sequence 2934 0 10 160 --seed 1" in browser.find_element("id", "seq-command").text
    assert browser.execute_script("return window.notReloaded === true;")

    # a width too small: a clear message naming the parameter and the minimum width
    _type(browser, "seq-width", "20")
    error = _wait(lambda: browser.find_element("id", "seq-error").text, what="the error message")
    assert error.startswith("width: image width == 20 is too small") and "the minimum width is 142" in error
    assert browser.find_element("id", "seq-error").get_attribute("data-status") == "422"
    assert "bad-input" in browser.find_element("id", "seq-width").get_attribute("class")
    _type(browser, "seq-width", "180")
    _wait(lambda: _natural_size(browser, "seq-image") == (180, 28) and not browser.find_element("id", "seq-error").text, what="recovery")

    # the digits panel: fewer digits, a smaller grid
    _type(browser, "dig-n", "4")
    _wait(lambda: _natural_size(browser, "dig-image") == (118, 28), what="the 4-digit grid")

    # download PNG: the file holds the bytes of the API for the same query
    browser.find_element("id", "seq-png").click()
    path: Path = _wait(lambda: next(iter(browser.downloads.glob("*.png")), None), what="the downloaded PNG")
    _wait(lambda: path.stat().st_size > 0 and not list(browser.downloads.glob("*.crdownload")), what="the download to finish")
    assert path.name == "2-9-3-4.png"
    href = browser.find_element("id", "seq-png").get_attribute("href")
    with urllib.request.urlopen(href) as response:
        assert path.read_bytes() == response.read()
    assert "width=180" in href
