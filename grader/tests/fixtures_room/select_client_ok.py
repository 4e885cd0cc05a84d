#!/usr/bin/env python3
"""Lab 1's correct Python client (../fixtures/chatlib.py), waiting with
select.select instead of epoll: a correct select-client. See README.md."""

import os
import selectors
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "fixtures"))
import chatlib  # noqa: E402


class SelectClient(chatlib.ChatClient):
    def open_selector(self):
        # select() takes any descriptor, a regular file included.
        self.selector = selectors.SelectSelector()
        self.selector.register(self.sock, chatlib.EVENT_READ)
        self.selector.register(chatlib.STDIN, chatlib.EVENT_READ)


chatlib.CLIENT_DEFECTS["select"] = SelectClient
sys.exit(chatlib.run_client(sys.argv[1:], defect="select"))
