#!/usr/bin/env python3
"""The room's helper: `room_helper.py FD PIPE_IN PIPE_OUT`. See roomlib.py."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import roomlib  # noqa: E402

roomlib.run_helper(sys.argv[1:])
