"""A `$BROWSER` for tests that need a sign-in but not a real browser: GETs the URL and follows
redirects (with the simulator's auto-approve, /authorize redirects straight to the loopback callback).
SSO_TRAY_TEST_BROWSER_LOG, if set, gets one line per URL opened."""

import os
import sys
import time
import urllib.request

if __name__ == "__main__":
    log = os.environ.get("SSO_TRAY_TEST_BROWSER_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as f:
            f.write(sys.argv[1].split("?")[0] + "\n")
    time.sleep(float(os.environ.get("SSO_TRAY_TEST_BROWSER_DELAY", "0")))
    urllib.request.urlopen(sys.argv[1], timeout=30).read()
