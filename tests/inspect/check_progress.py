"""`tessera compile` progress: on a terminal (a pty) a bar rewritten in place; without one
plain lines (--verbose), never escape codes; --quiet silent; --timings one line per stage; and
the closing paragraph says where the plan went.
usage: check_progress.py BIN_DIR MODEL OUT_DIR"""
import os
import pty
import re
import subprocess
import sys

BIN, MODEL, DIR = sys.argv[1:4]
TSR = BIN + "/tessera"
failures = []

def check(cond, what):
    if not cond:
        failures.append(what)

def on_tty(args):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(TSR, [TSR, *args])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), out.decode(errors="replace")

plan = f"{DIR}/p.tsr"
rc, out = on_tty(["compile", MODEL, "--mesh", "tp=2", "-o", plan])
check(rc == 0, f"tty compile rc {rc}: {out}")
bars = re.findall(r"\r\x1b\[K\[([#.]{20})\] (\d+)/(\d+) ([\w-]+) \.\.\.", out)
check(len(bars) >= 5, f"progress bar on a tty: {out!r}")
if bars:
    check(bars[-1][1] == bars[-1][2] == str(len(bars)) and bars[-1][3] == "emit", f"last bar {bars[-1]}")
    check(bars[-1][0] == "#" * 20 and "#" not in bars[0][0][:1] or bars[0][1] == "1", "bar fills")
check(f"Wrote the plan to {plan}." in out.replace("\r\n", " ").replace("\n", " "), "tty: where it went")

r = subprocess.run([TSR, "compile", MODEL, "--mesh", "tp=2", "-o", plan, "--verbose"],
                   capture_output=True, text=True)
check(r.returncode == 0, "pipe compile")
check("\x1b" not in r.stderr and "\r" not in r.stderr, f"escape codes without a tty: {r.stderr!r}")
lines = r.stderr.splitlines()
check(len(lines) >= 5 and all(re.fullmatch(r"\[\d+/\d+\] [\w-]+ \.\.\.", l) for l in lines),
      f"plain lines: {lines}")
para = " ".join(r.stdout.split())
check(para.startswith(f"Wrote the plan to {plan}.") and "Modelled step" in para and
      "peak memory" in para and "tessera inspect" in para, f"summary paragraph: {r.stdout}")

r = subprocess.run([TSR, "compile", MODEL, "-o", plan, "--quiet"], capture_output=True, text=True)
check(r.returncode == 0 and r.stdout == "" and r.stderr == "", f"--quiet: {r.stdout!r} {r.stderr!r}")
r = subprocess.run([TSR, "compile", MODEL, "-o", plan, "--timings"], capture_output=True, text=True)
timed = [l.split()[0] for l in r.stderr.splitlines() if re.fullmatch(r"[\w-]+ +\d+\.\d{3} s", l)]
check("spmd-search" in timed and "emit" in timed and timed[0] == "import", f"--timings: {r.stderr}")

for f in failures:
    print("FAIL:", f)
print(f"progress: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
