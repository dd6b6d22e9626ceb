"""Headless Chromium (Debian's `chromium` + `chromium-driver`) driven by Selenium, and the
console served by uvicorn on loopback for it. No browser is downloaded: Selenium is given
the system driver, so its manager never runs."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
CHROMIUM = ("chromium", "chromium-browser")
DRIVER = "chromedriver"


def _need(what: str) -> None:
    message = f"{what}: `make tools` installs Debian's chromium and chromium-driver with apt-get"
    if os.environ.get("CI"):
        pytest.fail(f"missing in CI: {message}")
    pytest.skip(message)


def chromium_paths() -> tuple[str, str]:
    browser = next((found for name in CHROMIUM if (found := shutil.which(name))), None)
    driver = shutil.which(DRIVER)
    if browser is None or driver is None:
        _need("no chromium or chromedriver on PATH")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _need("selenium is not installed (the dev extra has it)")
    assert browser is not None and driver is not None
    return browser, driver


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: Starlette, port: int) -> Iterator[str]:
    """Serve `app` on 127.0.0.1:`port` in a thread; yields the base URL (as localhost)."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, access_log=False, log_config=None, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start")
        time.sleep(0.05)
    try:
        yield f"http://localhost:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A headless Chromium with a WebAuthn virtual authenticator attached."""
    browser, driver_path = chromium_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # root in CI
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--lang=en-GB",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        if width < 500:
            # A phone: headless windows are at least 500 wide, so emulate the device.
            driver.execute_cdp_cmd(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 2, "mobile": True},
            )
        driver.execute_cdp_cmd("WebAuthn.enable", {"enableUI": False})
        driver.execute_cdp_cmd(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "usb",
                    "hasResidentKey": False,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        yield driver
    finally:
        driver.quit()


def screenshot(driver: Any, name: str, *, full: bool = True) -> Path:
    """Save the page as tests/artifacts/screenshots/NAME.png (the whole page, by default)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    size = driver.get_window_size()
    if full:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(size["width"], min(max(height, size["height"]), 6000))
    driver.save_screenshot(str(path))
    if full:
        driver.set_window_size(size["width"], size["height"])
    return path
