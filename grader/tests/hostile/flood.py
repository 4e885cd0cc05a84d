#!/usr/bin/env python3
"""Prints the readiness line, then floods stdout and stderr for ever."""
import os
import socket
import sys

marker = os.environ.get("HOSTILE_MARKER", "hostile")
listener = socket.create_server(("0.0.0.0", 0))
print(f"listening on 0.0.0.0:{listener.getsockname()[1]}", flush=True)
chunk = (marker + " flooding " * 100 + "\n").encode() * 64
while True:
    os.write(1, chunk)
    os.write(2, chunk)
