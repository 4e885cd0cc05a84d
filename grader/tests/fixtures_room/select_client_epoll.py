#!/usr/bin/env python3
"""Lab 1's correct Python client as it is: it waits in epoll, which
select-client must not. See README.md."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))
import chatlib  # noqa: E402

sys.exit(chatlib.run_client(sys.argv[1:]))
