"""The --html page in real headless Chromium: the op table and the plots render (DOM after
scripts ran), sorting works, a screenshot is saved, and no request leaves the page (the page
names no http(s) URL, and Chromium's network log records none).
usage: check_html.py BIN_DIR PLAN_DIR"""
import glob
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

BIN, DIR = sys.argv[1:3]
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
if not browser:
    print("no chromium (scripts/setup.sh installs it)")
    sys.exit(77)

page = os.path.abspath(f"{DIR}/g.html")
r = subprocess.run([BIN + "/tessera", "inspect", f"{DIR}/g.tsr", "--json", "--html", page],
                   capture_output=True, text=True, check=True)
info = json.loads(r.stdout)
raw = open(page).read()
check(not re.search(r"https?://", raw), "page names an http(s) URL")
check(not re.search(r"""(src|href)\s*=\s*["']?\s*(?!#)[^"'\s>]""", raw, re.I), "page loads a resource")
check("@import" not in raw and "url(" not in raw, "CSS loads a resource")

def chromium(url, *extra):
    profile = tempfile.mkdtemp()
    netlog = os.path.join(profile, "net.json")
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run",
           "--user-data-dir=" + profile, "--log-net-log=" + netlog,
           "--host-resolver-rules=MAP * ~NOTFOUND", "--virtual-time-budget=3000", *extra, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    requests = page_requests(netlog)
    shutil.rmtree(profile, ignore_errors=True)
    return r, requests

def page_requests(netlog):
    """URLs the page asked for, from Chromium's network log. The browser's own background
    traffic (updates, accounts) has no origin ("not an origin"); the page's has one."""
    if not os.path.exists(netlog):
        return {"<no network log>"}
    d = json.load(open(netlog))
    start = d["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = set()
    for e in d["events"]:
        p = e.get("params", {})
        if e["type"] == start and "url" in p and p.get("initiator") != "not an origin" and \
                not p.get("url", "").startswith(("file:", "data:", "about:", "blob:")):
            urls.add(p.get("url"))
    return urls

class Dom(html.parser.HTMLParser):
    """Collects the op table's rows (cells' data-v / text), the plots' shapes."""
    def __init__(self):
        super().__init__()
        self.stack, self.rows, self.cell, self.counts = [], [], None, {}
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("table", "svg"):
            self.stack.append(a.get("id", ""))
        where = self.stack[-1] if self.stack else ""
        key = (where, tag, a.get("class", ""))
        self.counts[key] = self.counts.get(key, 0) + 1
        if where == "ops" and tag == "tr":
            self.rows.append([])
        if where == "ops" and tag == "td":
            self.cell = a.get("data-v", "")
            self.rows[-1].append(self.cell)
    def handle_endtag(self, tag):
        if tag in ("table", "svg") and self.stack:
            self.stack.pop()

for sort in ("", "#sort=8-desc"):
    r, netlog = chromium("file://" + page + sort, "--dump-dom")
    check(r.returncode == 0 and "<table" in r.stdout, f"dump-dom failed: {r.stderr[-500:]}")
    dom = Dom()
    dom.feed(r.stdout)
    rows = [row for row in dom.rows if row]
    check(len(rows) == info["counts"]["kernels"], f"op table rows {len(rows)}")
    check(dom.counts.get(("memory-plot", "polyline", ""), 0) == 1, "memory plot line")
    check(dom.counts.get(("graph", "g", "node kernel"), 0) == info["counts"]["kernels"], "graph kernels")
    check(dom.counts.get(("graph", "g", "node collective"), 0) == info["counts"]["collectives"],
          "graph collectives")
    times = [float(row[8]) for row in rows]
    if sort:
        check(times == sorted(times, reverse=True), "#sort=8-desc sorts by time")
    else:
        check([int(row[0]) for row in rows] == sorted(int(row[0]) for row in rows), "plan order")
    check(not netlog, f"requests left the page: {netlog}")

# The detector itself: a page that does load remote resources must be caught.
probe = os.path.abspath(f"{DIR}/probe.html")
open(probe, "w").write('<img src="http://example.invalid/x.png"><script src="https://example.invalid/y.js"></script>')
_, seen = chromium("file://" + probe, "--dump-dom")
check({"http://example.invalid/x.png", "https://example.invalid/y.js"} <= seen,
      f"the request detector misses a remote load: {seen}")

shot = os.path.abspath(f"{DIR}/g.png")
if os.path.exists(shot):
    os.remove(shot)
r, _ = chromium("file://" + page, "--screenshot=" + shot, "--window-size=1400,1800")
check(os.path.exists(shot) and open(shot, "rb").read(8) == b"\x89PNG\r\n\x1a\n", f"screenshot: {r.stderr[-300:]}")

for f in failures:
    print("FAIL:", f)
print(f"html: {len(failures)} failure(s); screenshot {shot}")
sys.exit(1 if failures else 0)
