"""Independent clients of `tunestream run`'s HTTP server, driven by tests/serve.rs.

  metrics URL                 parse /metrics with prometheus_client's OpenMetrics parser and
                              print every sample as JSON: {"name{labels}": value}
  browser URL TRACK OUT.png   open the dashboard in headless Chromium (Debian's chromium and
                              chromedriver, through selenium), wait until its top-tracks table
                              shows TRACK (a track id), save a screenshot, and fail on any
                              console error
"""

import json
import sys
import time
import urllib.request


def metrics(url):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    body = urllib.request.urlopen(url, timeout=10).read().decode()
    samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    print(json.dumps(samples, sort_keys=True))


def browser(url, track, screenshot):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    try:
        driver.get(url)
        deadline = time.monotonic() + 60
        shown = False
        while time.monotonic() < deadline:
            shown = driver.execute_script(
                "return [...document.querySelectorAll('#top_tracks tr[data-track]')]"
                ".some((row) => row.dataset.track === arguments[0]);",
                track,
            )
            if shown:
                break
            time.sleep(0.2)
        driver.save_screenshot(screenshot)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        if errors:
            sys.exit(f"console errors: {errors}")
        if not shown:
            sys.exit(f"the top-tracks table never showed track {track}; screenshot in {screenshot}")
        rows = driver.execute_script("return document.querySelectorAll('#top_tracks tr[data-track]').length;")
        timeline = driver.execute_script("return !!document.querySelector('#timeline-chart canvas');")
        print(json.dumps({"shown": True, "rows": rows, "timeline_chart": timeline}))
    finally:
        driver.quit()


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    {"metrics": metrics, "browser": browser}[command](*args)
