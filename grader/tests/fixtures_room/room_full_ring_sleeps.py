#!/usr/bin/env python3
"""Lab 2's room in Python, with the defect full_ring_sleeps. See README.md."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import roomlib  # noqa: E402

sys.exit(roomlib.run_room(sys.argv[1:], defect="full_ring_sleeps"))
