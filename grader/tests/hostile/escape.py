#!/usr/bin/env python3
"""Prints the readiness line, then forks a child that leaves the process
group and sleeps for ever, and hangs without accepting anyone."""
import os
import socket
import sys

marker = os.environ.get("HOSTILE_MARKER", "hostile")
listener = socket.create_server(("0.0.0.0", 0))
# Keep listening (never accepting) after exec: connections hang, not reset.
listener.set_inheritable(True)
print(f"listening on 0.0.0.0:{listener.getsockname()[1]}", flush=True)
if os.fork() == 0:
    os.setsid()
    os.execvp("sleep", [f"{marker}-escapee", "1000"])
os.execvp("sleep", [f"{marker}-server", "1000"])
