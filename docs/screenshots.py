"""Take the README's screenshots of the studio: headless Chromium (Selenium) on a running `digitgen serve`.

Usage: ``digitgen serve --port 8123 &`` then ``python docs/screenshots.py http://127.0.0.1:8123 docs/``.
Writes ``studio.png`` (the whole page, the sequence stage's layout options opened) and ``studio-<panel>.png`` for the sequence, digits and ambiguous panels.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path


def main(url: str, out: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,2400", "--hide-scrollbars",
                 f"--user-data-dir={tempfile.mkdtemp(prefix='chromium-')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    try:
        driver.get(url)
        deadline = time.monotonic() + 60
        while driver.find_element("tag name", "body").get_attribute("data-ready") != "1":
            if time.monotonic() > deadline:
                raise SystemExit("the page did not load its panels in 60 s")
            time.sleep(0.1)
        driver.execute_script("document.getElementById('seq-layout').open = true;")  # show the generated layout controls
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1280, height + 40)
        time.sleep(0.5)
        out.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(out / "studio.png"))
        for panel in ("sequence", "digits", "ambiguous"):
            driver.find_element("id", f"panel-{panel}").screenshot(str(out / f"studio-{panel}.png"))
    finally:
        driver.quit()


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8000", Path(sys.argv[2] if len(sys.argv) > 2 else "docs"))
