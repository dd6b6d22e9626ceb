"""The console in headless Chromium: WebAuthn (virtual authenticator) and TOTP logins, the
queue, a case, a reply, a transfer, logging out; screenshots kept in tests/artifacts/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from intake.web import WebOptions
from tests.support.browser import chromium, free_port, screenshot, served
from tests.support.defender import threat_report
from tests.support.keys import submit
from tests.support.setup import Setup
from tests.support.web import PASSPHRASE, WebWorld, web_world

pytestmark = pytest.mark.slow


def _wait(driver: Any, condition: Any, timeout: float = 20) -> Any:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # A condition may read an element of the page being replaced (a form just
    # submitted): that is "not yet", not a failure.
    wait = WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,))
    return wait.until(condition)


def _path(driver: Any, path: str) -> Any:
    return _wait(driver, lambda d: d.current_url.split("localhost:", 1)[1].partition("/")[2].split("?")[0] == path.lstrip("/"))


def _passphrase(driver: Any, base: str, officer: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(f"{base}/login")
    driver.find_element(By.ID, "officer").send_keys(officer)
    driver.find_element(By.ID, "passphrase").send_keys(PASSPHRASE.decode())
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()


def _submit_form(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"{css} button[type=submit]").click()


@pytest.fixture
def browser_world(primary_setup: Setup) -> tuple[WebWorld, str, Any]:
    port = free_port()
    world = web_world(
        primary_setup, WebOptions(rp_id="localhost", origin=f"http://localhost:{port}")
    )
    return world, str(port), None


def test_webauthn_and_totp_in_chromium(browser_world: tuple[WebWorld, str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    world, port, _ = browser_world
    _, kenya = submit(
        world.setup, threat_report("Kenya", details="هددوني أمام منزلي يوم الاثنين")
    )
    with served(world.app, int(port)) as base, chromium() as driver:
        # Given security staff's one-time code, Ana enrols a security key at first login.
        code = world.logins.new_enrolment_code(world.officers["ana"])
        driver.get(f"{base}/login")
        screenshot(driver, "login")
        _passphrase(driver, base, world.officers["ana"])
        _path(driver, "/login/enrol")
        driver.find_element(By.ID, "enrolment_code").send_keys(code)
        _submit_form(driver, "form.card")
        _wait(driver, lambda d: d.find_elements(By.ID, "webauthn-go"))
        driver.find_element(By.ID, "webauthn-go").click()
        _path(driver, "/queue")
        assert kenya in driver.page_source
        screenshot(driver, "queue")

        # She opens the case, replies, and transfers it.
        driver.find_element(By.LINK_TEXT, kenya).click()
        _path(driver, f"/cases/{kenya}")
        assert "Person at risk" in driver.page_source
        screenshot(driver, "case")
        driver.find_element(By.ID, "reply-text").send_keys("Are you safe now?")
        _submit_form(driver, "form.action-reply")
        _wait(driver, lambda d: "reply queued" in d.page_source)
        assert "awaiting_defender" in driver.page_source

        # The same case in Arabic: labels and layout right to left.
        Select(driver.find_element(By.ID, "lang-pick")).select_by_value("ar")
        _submit_form(driver, "header form.inline:last-of-type")
        _wait(driver, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("dir") == "rtl")
        answer = driver.find_element(By.CSS_SELECTOR, "dd.free")
        assert answer.get_attribute("dir") == "auto"
        screenshot(driver, "case-ar")

        driver.find_element(By.ID, "transfer-reason").send_keys("Ukrainian citizen, embassy in Kyiv follows")
        Select(driver.find_element(By.ID, "transfer-to")).select_by_value("eu-del-ua")
        _submit_form(driver, "form.action-transfer")
        _path(driver, "/queue")
        assert kenya not in driver.find_element(By.TAG_NAME, "table").text
        _submit_form(driver, "header form[action='/logout']")
        _path(driver, "/login")

        # She logs in again with her security key.
        _passphrase(driver, base, world.officers["ana"])
        _path(driver, "/login/factor")
        driver.find_element(By.ID, "webauthn-go").click()
        _path(driver, "/queue")
        _submit_form(driver, "header form[action='/logout']")
        _path(driver, "/login")

        # Ben has no security key: he enrols an authenticator app (TOTP) instead.
        code = world.logins.new_enrolment_code(world.officers["ben"])
        _passphrase(driver, base, world.officers["ben"])
        _path(driver, "/login/enrol")
        driver.find_element(By.ID, "enrolment_code").send_keys(code)
        _submit_form(driver, "form.card")
        secret = _wait(driver, lambda d: d.find_elements(By.ID, "totp-secret"))[0].text
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        world.totp["ben"] = secret
        driver.find_element(By.ID, "code").send_keys(world.code("ben"))
        driver.find_element(By.CSS_SELECTOR, "form.card:not(#webauthn-register) button[type=submit]").click()
        _path(driver, "/queue")
        _submit_form(driver, "header form[action='/logout']")
        _path(driver, "/login")
        _passphrase(driver, base, world.officers["ben"])
        _path(driver, "/login/factor")
        driver.find_element(By.ID, "code").send_keys(world.next_code("ben"))
        _submit_form(driver, "form.card")
        _path(driver, "/queue")


def test_the_queue_on_a_phone(browser_world: tuple[WebWorld, str, Any]) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    world, port, _ = browser_world
    _, kenya = submit(world.setup, threat_report("Kenya"))
    with served(world.app, int(port)) as base, chromium(390, 844) as driver:
        code = world.logins.new_enrolment_code(world.officers["ana"])
        _passphrase(driver, base, world.officers["ana"])
        _path(driver, "/login/enrol")
        driver.find_element(By.ID, "enrolment_code").send_keys(code)
        _submit_form(driver, "form.card")
        secret = _wait(driver, lambda d: d.find_elements(By.ID, "totp-secret"))[0].text
        world.totp["ana"] = secret
        field = driver.find_element(By.ID, "code")
        field.send_keys(world.code("ana"))
        field.send_keys(Keys.ENTER)  # the keyboard alone
        _path(driver, "/queue")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        assert width <= 400  # no page-wide sideways scrolling; the table scrolls in its box
        assert kenya in driver.page_source
        screenshot(driver, "queue-phone", full=False)
