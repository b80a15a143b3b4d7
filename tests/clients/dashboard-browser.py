"""The dashboard in a real browser (crates/amt-emu/tests/dashboard.rs).

Debian's chromium, headless, driven by selenium through Debian's
chromedriver: open the fleet's device list, filter it, open one device,
watch a WS-Man call made with curl appear in its live journal, add a fault
rule with the page's form and see the next call fail as the rule says.
Screenshots of the pages go to SCREENSHOTS/dashboard-*.png.

Usage: dashboard-browser.py BASE_URL DEVICE_ID WSMAN_URL BODY_FILE
                            PASSWORD SCREENSHOTS PROFILE_DIR
"""

import os
import subprocess
import sys
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, DEVICE, WSMAN, BODY, PASSWORD, SHOTS, PROFILE = sys.argv[1:8]
WAIT = 60  # seconds; generous for a loaded 2-core machine


def step(text):
    print("step:", text, flush=True)


def curl_wsman():
    """One digest-authenticated WS-Man call, as console guides show it."""
    out = subprocess.run(
        ["curl", "-s", "-k", "--max-time", "30", "--digest", "-u", "admin:" + PASSWORD,
         "-H", "Content-Type: application/soap+xml;charset=UTF-8",
         "--data-binary", "@" + BODY, "-w", "\n%{http_code}", WSMAN],
        capture_output=True, text=True, timeout=60, check=True)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def shot(driver, name):
    path = os.path.join(SHOTS, "dashboard-%s.png" % name)
    driver.save_screenshot(path)
    print("screenshot:", path, flush=True)


def scroll_to(driver, element_id):
    driver.execute_script(
        "document.getElementById(arguments[0]).scrollIntoView(true)", element_id)


def journal_items(driver):
    return driver.find_elements(By.CSS_SELECTOR, "#journal li[data-seq]")


def main():
    os.makedirs(SHOTS, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--user-data-dir=" + PROFILE, "--window-size=1280,1000"]:
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(WAIT)
    # Form posts reload the page: an element read mid-reload is stale or
    # not there yet, and the wait tries again.
    wait = WebDriverWait(
        driver,
        WAIT,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )
    try:
        step("the device list shows the fleet")
        driver.get(BASE + "/")
        rows = driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
        assert len(rows) == 20, "expected 20 devices, saw %d" % len(rows)

        step("typing filters at once (JavaScript), the form filters on the server")
        search = driver.find_element(By.CSS_SELECTOR, "#devices-filter input[name=q]")
        search.send_keys(DEVICE)
        visible = [r for r in driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
                   if r.is_displayed()]
        assert len(visible) == 1, "live filter left %d rows" % len(visible)
        driver.find_element(By.CSS_SELECTOR, "#devices-filter button[type=submit]").click()
        wait.until(EC.url_contains("q=" + DEVICE))
        rows = driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
        assert len(rows) == 1 and rows[0].get_attribute("data-id") == DEVICE, \
            "server filter gave %s" % [r.get_attribute("data-id") for r in rows]
        shot(driver, "filtered")

        step("opening the device")
        rows[0].find_element(By.TAG_NAME, "a").click()
        wait.until(EC.presence_of_element_located((By.ID, "journal")))
        assert DEVICE in driver.find_element(By.TAG_NAME, "h1").text
        for section in ["summary", "actions", "faults", "certificates", "tls", "users", "console"]:
            driver.find_element(By.ID, section)
        wait.until(EC.text_to_be_present_in_element((By.ID, "live"), "live"))
        shot(driver, "device")
        screen = driver.find_element(By.ID, "screen-image")
        wait.until(lambda d: d.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth", screen))
        assert screen.get_property("naturalWidth") == 1920, screen.get_property("naturalWidth")
        scroll_to(driver, "console")
        shot(driver, "console")

        step("a WS-Man call from curl appears in the live journal")
        before = len(journal_items(driver))
        code, body = curl_wsman()
        assert code == 200 and "AMT_GeneralSettings" in body, (code, body[:300])
        wait.until(lambda d: len(journal_items(d)) > before)
        newest = journal_items(driver)[0]
        assert "AMT_GeneralSettings.Get" in newest.text and "200" in newest.text, newest.text
        newest.find_element(By.TAG_NAME, "summary").click()
        pres = newest.find_elements(By.TAG_NAME, "pre")
        assert "AMT_GeneralSettings" in pres[1].text, pres[1].text[:200]
        scroll_to(driver, "journal-section")
        shot(driver, "journal")

        step("a fault rule added with the form makes the next call fail")
        form = driver.find_element(By.ID, "add-fault")
        form.find_element(By.NAME, "operation").send_keys("Get")
        Select(form.find_element(By.NAME, "kind")).select_by_value("soap_fault")
        subcode = form.find_element(By.NAME, "subcode")
        subcode.clear()
        subcode.send_keys("wsman:AccessDenied")
        form.find_element(By.NAME, "times").send_keys("1")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: "AccessDenied" in d.find_element(By.ID, "fault-rules").text)
        wait.until(EC.text_to_be_present_in_element((By.ID, "live"), "live"))
        scroll_to(driver, "faults")
        shot(driver, "faults")
        before = len(journal_items(driver))
        code, body = curl_wsman()
        assert "AccessDenied" in body and "Fault" in body, (code, body[:300])
        wait.until(lambda d: len(journal_items(d)) > before)
        newest = journal_items(driver)[0]
        assert "injected" in newest.text and "AccessDenied" in newest.text, newest.text

        step("the rule was for one call: the next one succeeds")
        code, body = curl_wsman()
        assert code == 200 and "AMT_GeneralSettings" in body, (code, body[:300])

        step("the list shows the device running, with its last call")
        for other in ["dev-00002", "dev-00012"]:  # started by the JSON API
            urllib.request.urlopen(BASE + "/api/devices/" + other, timeout=WAIT).read()
        driver.get(BASE + "/")
        row = driver.find_element(By.CSS_SELECTOR, '#devices tbody tr[data-id="%s"]' % DEVICE)
        assert "ready" in row.text and "AMT_GeneralSettings.Get 200" in row.text, row.text
        assert "post_provisioning / client" in row.text, row.text
        shot(driver, "fleet")
        print("ok", flush=True)
    except Exception:
        shot(driver, "failure")
        raise
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
