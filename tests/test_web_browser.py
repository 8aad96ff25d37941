"""The web app in a real browser: Debian's Chromium, headless, driven by Selenium through chromedriver.

An editor logs in and composes an announcement in Vietnamese and Thái (Tai Viet script), watching the
live preview; an approver logs in, approves it; after the dispatcher's pass it is in the delivery log.
The fonts for both scripts must actually load. With ``CCHC_SCREENSHOTS=DIR`` the main pages are also
saved as PNG files there (for people to look at; the test does not need them).
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

from scheduler.web.server import start_in_thread
from tests.conftest import START
from tests.helpers import dispatch
from tests.pg import _free_port
from tests.web import PASSWORDS

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the database is not under test here

TITLE = "Thông báo lịch tiếp công dân tháng 9 của Chủ tịch UBND xã"
BODY = "Chủ tịch UBND xã Mường La tiếp công dân vào sáng thứ Năm hằng tuần tại trụ sở."
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"


@pytest.fixture
def site(staff):
    """The web app served by uvicorn on a free loopback port, as ``cchc web`` serves it."""
    port = _free_port()
    server = start_in_thread(staff, "127.0.0.1", port)
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                 "--lang=vi"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # to read CSP violations
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


# Reading a node while the browser replaces the page raises "stale element" or, in recent Chrome,
# "Node with given id does not belong to the document": a wait tries again instead of failing.
RELOADING = (StaleElementReferenceException, WebDriverException)


def wait(driver, condition, seconds: float = 10):
    """Wait for ``condition``, then for the page it is on to have loaded completely."""
    found = WebDriverWait(driver, seconds, ignored_exceptions=RELOADING).until(condition)
    WebDriverWait(driver, seconds, ignored_exceptions=RELOADING).until(
        lambda d: d.execute_script("return document.readyState") == "complete")
    return found


def log_in(driver, site: str, name: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{site}/login")
    driver.find_element(By.NAME, "name").send_keys(name)
    driver.find_element(By.NAME, "password").send_keys(PASSWORDS[name])
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver, ready.presence_of_element_located((By.CSS_SELECTOR, "form.logout")))


def snap(driver, name: str) -> None:
    folder = os.environ.get("CCHC_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def loaded_fonts(driver) -> set[str]:
    """Font families the page really loaded (after ``document.fonts.ready``)."""
    return set(driver.execute_async_script(
        "const done = arguments[0]; document.fonts.ready.then(() => done("
        "Array.from(document.fonts).filter(f => f.status === 'loaded').map(f => f.family.replace(/\"/g, ''))));"))


def test_compose_in_two_scripts_approve_as_another_person_and_find_it_in_the_log(staff, clock, site, browser):
    log_in(browser, site, "lan")
    snap(browser, "1-tong-quan")
    browser.get(f"{site}/announcements/new")
    browser.find_element(By.NAME, "title").send_keys(TITLE)
    browser.find_element(By.NAME, "body").send_keys(BODY)
    browser.find_element(By.CSS_SELECTOR, "input[name=topics][value=a]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=channels][value=muong-la-website]").click()
    browser.find_element(By.CSS_SELECTOR, "input[name=languages][value=blt]").click()
    browser.find_element(By.NAME, "body_blt").send_keys(TAI_VIET)
    browser.execute_script("document.querySelector('[name=at]').value = '2025-09-01T09:00';")

    # the live preview shows what the website would publish in each language, before anything is saved
    wait(browser, ready.text_to_be_present_in_element((By.ID, "live-preview"), TAI_VIET))
    preview = browser.find_element(By.ID, "live-preview").text
    assert "Trang thông tin điện tử xã Mường La · Tiếng Việt" in preview and BODY in preview
    counter = browser.find_element(By.CSS_SELECTOR, "[name=title] + small.count").text
    assert counter == f"{len(TITLE)} ký tự"
    snap(browser, "2-soan-thong-bao")
    browser.find_element(By.CSS_SELECTOR, "button[name=submit]").click()

    wait(browser, ready.url_matches(r"/announcements/\d+"))
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Chờ duyệt" in page and TAI_VIET in page and "Đã gửi duyệt" in page
    assert {"Noto Sans", "Noto Sans Tai Viet"} <= loaded_fonts(browser)
    path = urlsplit(browser.current_url).path

    log_in(browser, site, "hung")
    browser.get(f"{site}/approvals")
    browser.find_element(By.CSS_SELECTOR, f"a[href='{path}']").click()
    snap(browser, "3-tham-dinh")
    assert "Nội dung sẽ đăng trên từng kênh" in browser.page_source
    browser.find_element(By.XPATH, "//button[text()='Phê duyệt']").click()
    wait(browser, ready.text_to_be_present_in_element((By.TAG_NAME, "main"), "Đã phê duyệt: 2 lượt phát"))

    dispatch(staff, clock, START + timedelta(hours=3))
    browser.get(f"{site}/deliveries")
    rows = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "table.log tbody tr")]
    assert any("ML-2025-0001.1" in row and "Đã đăng/phát" in row for row in rows), rows
    snap(browser, "4-nhat-ky-phat")
    for name, address in (("5-lich-thang", "/calendar?view=month"), ("6-kenh", "/channels"),
                          ("7-bao-cao", "/reports"), ("8-thong-bao", path)):
        browser.get(site + address)
        snap(browser, name)
    browser.set_window_size(390, 844)  # a phone
    browser.get(f"{site}/")
    assert browser.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    snap(browser, "9-dien-thoai")


def test_a_page_after_the_session_ended_goes_back_to_login_and_then_to_the_page(staff, clock, site, browser):
    log_in(browser, site, "lan")
    clock.advance(timedelta(hours=11))
    browser.get(f"{site}/calendar")
    assert "/login?next=/calendar" in browser.current_url
    browser.find_element(By.NAME, "name").send_keys("lan")
    browser.find_element(By.NAME, "password").send_keys(PASSWORDS["lan"])
    browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(browser, ready.url_contains("/calendar"))
    wait(browser, ready.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Lịch phát"))


def test_the_pages_and_the_api_page_work_under_the_content_security_policy(staff, site, browser):
    """No page needs what the policy forbids (inline script, foreign hosts); /api/docs works offline."""
    log_in(browser, site, "mai")
    for path in ("/", "/announcements/new", "/deliveries", "/users", "/audit"):
        browser.get(site + path)
        assert browser.find_element(By.TAG_NAME, "h1").text, path
    browser.get(f"{site}/api/docs")
    wait(browser, ready.presence_of_element_located((By.CSS_SELECTOR, ".opblock")), 20)
    assert "/api/announcements" in browser.find_element(By.ID, "swagger-ui").text
    refused = [entry["message"] for entry in browser.get_log("browser")
               if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]]
    assert refused == []
