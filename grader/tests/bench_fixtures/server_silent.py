#!/usr/bin/env python3
"""A chat server that never says it is ready: it listens, but never prints
`listening on 0.0.0.0:PORT`, so nobody knows its port. `grader bench` must
give up at its readiness deadline, with status 2, and stop it."""

import signal
import socket
import sys

listener = socket.socket()
listener.bind(("0.0.0.0", int(sys.argv[1]) if len(sys.argv) > 1 else 5000))
listener.listen()
# Waits for a signal for ever: the bench kills it.
signal.pause()
