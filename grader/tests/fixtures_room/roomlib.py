"""Lab 2's room in plain Python 3, correct for the mechanisms the grader
checks, and its broken variants: one defect each (see README.md).

The room: one epoll set over the listener, the self-pipe (signal.set_wakeup_fd
writes each signal's number to it; the handlers do nothing) and a pipe from
each helper. For each client: two pipes, fork, and in the child exec of
room_helper.py with the socket's descriptor number and the pipe ends' numbers
as arguments (Python makes every other descriptor close-on-exec). Messages go
through a ring of slots in a shared-memory object under /dev/shm: the room
writes a slot and sends its index down each other helper's pipe; a helper
copies the slot out to its client. Idle deadlines: epoll_wait sleeps until the
nearest one. No sleeps anywhere.
"""

import errno
import mmap
import os
import select
import signal
import socket
import struct
import sys
import time

SLOTS = 256
SLOT_SIZE = 8192
MAX_LINE = 4096
HERE = os.path.dirname(os.path.abspath(__file__))


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def shm_path(room_pid):
    return f"/dev/shm/chat-room-py-{room_pid}"


def map_ring(fd, path):
    """Maps the ring, then closes every descriptor of it: Python's mmap
    keeps a duplicate of `fd`, which neither the room nor a helper needs
    once the memory is mapped (the ring lives until the process exits)."""
    ring = mmap.mmap(fd, SLOTS * SLOT_SIZE)
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == path:
                os.close(int(name))
        except OSError:
            pass
    return ring


class Helper:
    def __init__(self, pid, tag, up, down):
        self.pid = pid
        self.tag = tag
        self.up = up          # read end: lines from the helper
        self.down = down      # write end: slot indexes (or messages) to it
        self.pending = b""
        self.deadline = None


class Room:
    # Defects override these.
    use_self_pipe = True
    reap_on_sigchld = True
    idle_resets = True
    unlink_on_exit = True
    use_shm = True

    def __init__(self, listener, idle):
        self.listener = listener
        self.idle = idle
        self.helpers = {}     # up fd -> Helper
        self.next_slot = 0
        self.epoll = select.epoll()
        self.epoll.register(listener.fileno(), select.EPOLLIN)
        self.ring = None
        if self.use_shm:
            self.path = shm_path(os.getpid())
            fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            os.ftruncate(fd, SLOTS * SLOT_SIZE)
            self.ring = map_ring(fd, self.path)
        self.stopping = False
        self.install_signals()

    # ------------------------------------------------------------ signals

    def install_signals(self):
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: None)
        self.epoll.register(self.wake_r, select.EPOLLIN)

    def on_signals(self):
        try:
            data = os.read(self.wake_r, 256)
        except BlockingIOError:
            return
        for number in data:
            if number == signal.SIGCHLD:
                if self.reap_on_sigchld:
                    self.reap()
            elif number in (signal.SIGTERM, signal.SIGINT):
                self.stopping = True

    def reap(self):
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return

    # ------------------------------------------------------------ the loop

    def serve(self):
        print(f"listening on 0.0.0.0:{self.listener.getsockname()[1]}", flush=True)
        while not self.stopping:
            timeout = self.timeout()
            for fd, _ in self.epoll.poll(timeout):
                if fd == self.listener.fileno():
                    self.accept()
                elif self.use_self_pipe and fd == self.wake_r:
                    self.on_signals()
                elif fd in self.helpers:
                    self.from_helper(self.helpers[fd])
            self.expire()
        self.shutdown()

    def timeout(self):
        deadlines = [h.deadline for h in self.helpers.values() if h.deadline is not None]
        if not deadlines:
            return -1
        left = min(deadlines) - time.monotonic()
        return max(0.0, left) + 0.0005

    def expire(self):
        now = time.monotonic()
        for helper in list(self.helpers.values()):
            if helper.deadline is not None and helper.deadline <= now:
                helper.deadline = None
                self.send_to(helper, f"[SERVER] Disconnected: idle for {self.idle} s.\n".encode())
                # Its helper writes what it has, then exits: the room sees
                # its pipe close and announces the leave.
                os.close(helper.down)
                helper.down = None

    def accept(self):
        try:
            sock, (ip, port) = self.listener.accept()
        except BlockingIOError:
            return
        tag = f"[{ip}:{port}]"
        helper = self.spawn(sock, tag)
        sock.close()
        self.broadcast(helper, f"{tag} (connected)\n".encode(), include_new=False)
        self.helpers[helper.up] = helper
        self.epoll.register(helper.up, select.EPOLLIN)
        if self.idle:
            helper.deadline = time.monotonic() + self.idle
        log(f"{tag} connected (helper {helper.pid})")

    def helper_args(self, sock, down_r, up_w):
        return [str(sock.fileno()), str(down_r), str(up_w)]

    def in_child(self, sock, down_r, up_w):
        for fd in (sock.fileno(), down_r, up_w):
            os.set_inheritable(fd, True)

    def spawn(self, sock, tag):
        down_r, down_w = os.pipe()
        up_r, up_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                self.in_child(sock, down_r, up_w)
                args = self.helper_args(sock, down_r, up_w)
                # -S: no site packages, so that a helper starts quickly.
                os.execv(sys.executable, [sys.executable, "-S", os.path.join(HERE, "room_helper.py")] + args
                         + ([] if self.use_shm else ["--no-shm"]))
            finally:
                os._exit(127)
        os.close(down_r)
        os.close(up_w)
        return Helper(pid, tag, up_r, down_w)

    def from_helper(self, helper):
        try:
            data = os.read(helper.up, 65536)
        except OSError:
            data = b""
        if not data:
            self.remove(helper)
            return
        helper.pending += data
        *lines, helper.pending = helper.pending.split(b"\n")
        for line in lines:
            if self.idle and self.idle_resets and helper.down is not None:
                helper.deadline = time.monotonic() + self.idle
            self.broadcast(helper, helper.tag.encode() + b" " + line + b"\n")

    def remove(self, helper):
        self.epoll.unregister(helper.up)
        os.close(helper.up)
        if helper.down is not None:
            os.close(helper.down)
        del self.helpers[helper.up]
        self.broadcast(helper, f"{helper.tag} (disconnected)\n".encode())
        log(f"{helper.tag} disconnected")

    def broadcast(self, sender, message, include_new=True):
        for helper in list(self.helpers.values()):
            if helper is not sender:
                self.send_to(helper, message)

    def send_to(self, helper, message):
        if helper.down is None:
            return
        if self.use_shm:
            slot = self.next_slot
            self.next_slot = (self.next_slot + 1) % SLOTS
            start = slot * SLOT_SIZE
            self.ring[start:start + 4 + len(message)] = struct.pack("I", len(message)) + message
            order = struct.pack("I", slot)
        else:
            order = struct.pack("I", len(message)) + message
        try:
            os.write(helper.down, order)
        except OSError:
            pass

    def shutdown(self):
        for helper in self.helpers.values():
            try:
                os.kill(helper.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for helper in self.helpers.values():
            try:
                os.waitpid(helper.pid, 0)
            except ChildProcessError:
                pass
        if self.use_shm and self.unlink_on_exit:
            os.unlink(self.path)


# ---------------------------------------------------------------- the helper


def run_helper(argv):
    """`room_helper.py FD PIPE_IN PIPE_OUT [--no-shm]`."""
    use_shm = "--no-shm" not in argv
    argv = [a for a in argv if a != "--no-shm"]
    fd = 0 if argv[0] == "stdin" else int(argv[0])
    down, up = int(argv[1]), int(argv[2])
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    ring = None
    if use_shm:
        path = shm_path(os.getppid())
        ring = map_ring(os.open(path, os.O_RDWR), path)
    outbox = bytearray()
    orders = b""
    partial = b""
    reading = True
    poller = select.poll()

    def report(line):
        os.write(up, line + b"\n")

    def finish():
        if partial:
            report(partial)
        sys.exit(0)

    while True:
        poller = select.poll()
        poller.register(fd, (select.POLLIN if reading else 0) | (select.POLLOUT if outbox else 0))
        poller.register(down, select.POLLIN)
        for ready, events in poller.poll():
            if ready == down:
                data = os.read(down, 65536)
                if not data:
                    sock.setblocking(True)
                    sock.sendall(outbox)
                    sys.exit(0)
                orders += data
                while True:
                    if use_shm:
                        if len(orders) < 4:
                            break
                        (slot,) = struct.unpack("I", orders[:4])
                        orders = orders[4:]
                        start = slot * SLOT_SIZE
                        (length,) = struct.unpack("I", ring[start:start + 4])
                        outbox += ring[start + 4:start + 4 + length]
                    else:
                        if len(orders) < 4:
                            break
                        (length,) = struct.unpack("I", orders[:4])
                        if len(orders) < 4 + length:
                            break
                        outbox += orders[4:4 + length]
                        orders = orders[4 + length:]
            elif events & select.POLLOUT and outbox:
                try:
                    sent = sock.send(outbox)
                    del outbox[:sent]
                except BlockingIOError:
                    pass
                except OSError:
                    finish()
            if ready == fd and events & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    finish()
                partial += data
                while True:
                    at = partial.find(b"\n")
                    if at < 0:
                        break
                    line = partial[:at]
                    partial = partial[at + 1:]
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    while len(line) > MAX_LINE:
                        report(line[:MAX_LINE])
                        line = line[MAX_LINE:]
                    report(line)
                while len(partial) >= MAX_LINE:
                    report(partial[:MAX_LINE])
                    partial = partial[MAX_LINE:]


# ---------------------------------------------------------------- defects


class NoFdArgRoom(Room):
    """The helper gets its socket as standard input, and no number names it."""

    def in_child(self, sock, down_r, up_w):
        os.dup2(sock.fileno(), 0)
        for fd in (down_r, up_w):
            os.set_inheritable(fd, True)

    def helper_args(self, sock, down_r, up_w):
        return ["stdin", str(down_r), str(up_w)]


class LeakyFdsRoom(Room):
    """The helper inherits the listener too."""

    def in_child(self, sock, down_r, up_w):
        super().in_child(sock, down_r, up_w)
        os.set_inheritable(self.listener.fileno(), True)


class NoReapRoom(Room):
    """SIGCHLD arrives through the self-pipe and is ignored: zombies."""

    reap_on_sigchld = False


class NoSelfPipeRoom(Room):
    """Signals handled in the handlers themselves: no pipe in the loop."""

    use_self_pipe = False

    def install_signals(self):
        def on_child(*_):
            self.reap()

        def on_stop(*_):
            raise KeyboardInterrupt

        signal.signal(signal.SIGCHLD, on_child)
        signal.signal(signal.SIGTERM, on_stop)
        signal.signal(signal.SIGINT, on_stop)

    def serve(self):
        try:
            super().serve()
        except KeyboardInterrupt:
            self.shutdown()


class NoShmRoom(Room):
    """Messages go down the pipes whole: no shared memory."""

    use_shm = False


class IdleNoResetRoom(Room):
    """A line does not reset the sender's idle deadline."""

    idle_resets = False


class SigtermKeepsShmRoom(Room):
    """On SIGTERM it ends its helpers but leaves its ring in /dev/shm."""

    unlink_on_exit = False


DEFECTS = {
    None: Room,
    "no_fd_arg": NoFdArgRoom,
    "leaky_fds": LeakyFdsRoom,
    "no_reap": NoReapRoom,
    "no_self_pipe": NoSelfPipeRoom,
    "no_shm": NoShmRoom,
    "idle_no_reset": IdleNoResetRoom,
    "sigterm_keeps_shm": SigtermKeepsShmRoom,
}


def run_room(argv, defect=None):
    """`room [--idle SECS] [PORT]`; returns the exit status."""
    idle = None
    if argv[:1] == ["--idle"]:
        idle = int(argv[1])
        argv = argv[2:]
    port = int(argv[0]) if argv else 12345
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", port))
    listener.listen(128)
    listener.setblocking(False)
    room = DEFECTS[defect](listener, idle)
    room.serve()
    return 0
