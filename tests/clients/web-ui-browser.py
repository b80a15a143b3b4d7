"""Drives the firmware web UI in Debian's headless chromium through
chromedriver (selenium), as a person would: open the device's address,
press "Log On...", answer the digest login, read the system status and
the event log, send a power command from the remote control page.

Chromium cannot type into its own login dialog when headless, and
selenium's BiDi auth handler (network.continueWithAuth) gets no answer
from chromedriver 156, so the login is answered over the DevTools
protocol: Fetch.enable with handleAuthRequests, then
Fetch.continueWithAuth with the credentials on Fetch.authRequired.
Chromium computes the digest response itself.

usage: web-ui-browser.py BASE_URL USER PASSWORD SCREENSHOT_DIR
Prints one JSON object with what it read.
"""

import json
import os
import sys
import tempfile
import threading
import urllib.request

import websocket
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

TIMEOUT = 30


class DigestLogin:
    """Answers the page's HTTP authentication challenges over CDP."""

    def __init__(self, driver, user, password):
        debugger = driver.capabilities["goog:chromeOptions"]["debuggerAddress"]
        with urllib.request.urlopen(f"http://{debugger}/json", timeout=TIMEOUT) as r:
            targets = json.load(r)
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(url, suppress_origin=True, timeout=TIMEOUT)
        self.user, self.password = user, password
        self.challenges = 0
        self.lock = threading.Lock()
        self.next_id = 0
        self.send("Fetch.enable", {"handleAuthRequests": True})
        self.ws.settimeout(None)
        threading.Thread(target=self.loop, daemon=True).start()

    def send(self, method, params):
        with self.lock:
            self.next_id += 1
            self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))

    def loop(self):
        while True:
            try:
                message = json.loads(self.ws.recv())
            except Exception:
                return
            params = message.get("params", {})
            if message.get("method") == "Fetch.requestPaused":
                self.send("Fetch.continueRequest", {"requestId": params["requestId"]})
            elif message.get("method") == "Fetch.authRequired":
                self.challenges += 1
                # Wrong credentials would be asked for again and again.
                response = "ProvideCredentials" if self.challenges < 20 else "CancelAuth"
                self.send(
                    "Fetch.continueWithAuth",
                    {
                        "requestId": params["requestId"],
                        "authChallengeResponse": {
                            "response": response,
                            "username": self.user,
                            "password": self.password,
                        },
                    },
                )


def main():
    base, user, password, shots = sys.argv[1:5]
    os.makedirs(shots, exist_ok=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1000,760",
        "--user-data-dir=" + tempfile.mkdtemp(prefix="amt-web-ui-"),
    ]:
        options.add_argument(arg)
    # The device's certificate is self-signed.
    options.accept_insecure_certs = True
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(TIMEOUT)
    wait = WebDriverWait(driver, TIMEOUT)
    out = {}
    try:
        login = DigestLogin(driver, user, password)

        def shot(name):
            driver.save_screenshot(os.path.join(shots, f"web-ui-{name}.png"))

        driver.get(base + "/")
        out["landed_on"] = driver.current_url
        shot("logon")
        driver.find_element(By.ID, "logon").click()
        wait.until(lambda d: d.find_elements(By.ID, "power"))
        out["status_url"] = driver.current_url
        out["status_power"] = driver.find_element(By.ID, "power").text
        out["system_id"] = driver.find_element(By.ID, "system-id").text
        shot("status")

        driver.find_element(By.LINK_TEXT, "Event Log").click()
        wait.until(lambda d: d.find_elements(By.ID, "event-log"))
        rows = driver.find_elements(By.CSS_SELECTOR, "#event-log tr.event")
        out["events"] = [r.text for r in rows]
        shot("events")

        driver.find_element(By.LINK_TEXT, "System").click()
        wait.until(lambda d: d.find_elements(By.ID, "sys-model"))
        out["model"] = driver.find_element(By.ID, "sys-model").text
        shot("hardware")

        driver.find_element(By.LINK_TEXT, "Remote Control").click()
        wait.until(lambda d: d.find_elements(By.ID, "send"))
        driver.find_element(By.ID, "power-8").click()
        driver.find_element(By.ID, "send").click()
        wait.until(lambda d: d.find_elements(By.ID, "result"))
        out["result"] = driver.find_element(By.ID, "result").text
        out["power_after"] = driver.find_element(By.ID, "power").text
        shot("remote")
        out["challenges"] = login.challenges
    finally:
        driver.quit()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
