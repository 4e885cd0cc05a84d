#!/usr/bin/env python3
"""Tells the test it started, through the FIFO named by HOSTILE_FIFO, then
sleeps for ever."""
import os

marker = os.environ.get("HOSTILE_MARKER", "hostile")
with open(os.environ["HOSTILE_FIFO"], "w") as fifo:
    fifo.write("started\n")
os.execvp("sleep", [f"{marker}-hang", "1000"])
