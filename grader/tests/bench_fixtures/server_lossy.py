#!/usr/bin/env python3
"""A chat server that loses lines on purpose: `grader bench` must report it.

It follows protocol.md (readiness line, join notices, `[TAG] TEXT` to every
other client), except that it silently drops every 100th line it forwards.
Standalone on purpose, so that the bench's tests do not depend on the
grading fixtures. Python 3 standard library only.
"""

import selectors
import signal
import socket
import sys

DROP_EVERY = 100


def main(argv):
    port = int(argv[0]) if argv else 5000
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(128)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    clients = {}  # socket -> [tag, inbox, outbox]
    forwarded = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"listening on 0.0.0.0:{listener.getsockname()[1]}", flush=True)

    def queue(sender, data):
        for sock, client in clients.items():
            if sock is not sender and data:
                if not client[2]:
                    selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE)
                client[2] += data

    def leave(sock):
        selector.unregister(sock)
        tag = clients.pop(sock)[0]
        sock.close()
        queue(sock, tag + b" (disconnected)\n")

    while True:
        for key, events in selector.select():
            sock = key.fileobj
            if sock is listener:
                conn, (ip, port) = listener.accept()
                conn.setblocking(False)
                tag = f"[{ip}:{port}]".encode()
                queue(conn, tag + b" (connected)\n")
                clients[conn] = [tag, b"", bytearray()]
                selector.register(conn, selectors.EVENT_READ)
                continue
            if sock not in clients:
                continue
            client = clients[sock]
            if events & selectors.EVENT_READ:
                data = sock.recv(65536)
                if not data:
                    leave(sock)
                    continue
                *lines, client[1] = (client[1] + data).split(b"\n")
                out = []
                for line in lines:
                    forwarded += 1
                    if forwarded % DROP_EVERY:
                        out.append(client[0] + b" " + line.rstrip(b"\r") + b"\n")
                queue(sock, b"".join(out))
            if events & selectors.EVENT_WRITE and client[2]:
                sent = sock.send(client[2])
                del client[2][:sent]
                if not client[2]:
                    selector.modify(sock, selectors.EVENT_READ)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
