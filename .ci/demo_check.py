"""Sign up on the running demo site as a person would, and find the confirmation email
on its console. Usage: python3 .ci/demo_check.py LOGFILE (standard library only)."""

import http.cookiejar
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

BASE = "http://127.0.0.1:8000"
log_path = sys.argv[1]
opener = urllib.request.build_opener(
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
)

deadline = time.monotonic() + 300  # the command installs the app first
while True:
    try:
        page = opener.open(f"{BASE}/accounts/signup/", timeout=5).read().decode()
        break
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        if time.monotonic() > deadline:
            sys.exit("the demo site did not answer at /accounts/signup/ within 5 minutes")
        time.sleep(2)

token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
form = {
    "csrfmiddlewaretoken": token,
    "username": "demo",
    "email": f"demo{int(time.time())}@example.com",
    "password1": "a long demo passphrase",
    "password2": "a long demo passphrase",
}
request = urllib.request.Request(
    f"{BASE}/accounts/signup/",
    data=urllib.parse.urlencode(form).encode(),
    headers={"Referer": f"{BASE}/accounts/signup/"},
)
landed = opener.open(request, timeout=30).geturl()
if not landed.endswith("/accounts/confirm-email/sent/"):
    sys.exit(f"signup did not reach the confirmation-sent page: {landed}")
time.sleep(1)
console = Path(log_path).read_text(encoding="utf-8", errors="replace")
links = re.findall(r"http://127\.0\.0\.1:8000/accounts/confirm-email/[\w-]+/", console)
if not links:
    sys.exit("no confirmation link on the demo site's console")
print(f"demo site: signup answered, confirmation email printed ({links[-1][:60]}...)")
