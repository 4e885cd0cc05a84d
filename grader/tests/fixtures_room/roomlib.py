"""Lab 2's room in plain Python 3, correct for the mechanisms the grader
checks, and its broken variants: one defect each (see README.md).

The room: one epoll set over the listener, the self-pipe (signal.set_wakeup_fd
writes each signal's number to it; the handlers do nothing) and a pipe from
each helper. For each client: two pipes, fork, and in the child exec of
room_helper.py with the socket's descriptor number and the pipe ends' numbers
as arguments (Python makes every other descriptor close-on-exec). Messages go
through a ring of slots in a shared-memory object under /dev/shm: the room
writes a slot and sends its index down each other helper's pipe; a helper
copies the slot into its outbox at once and acks it (in batches, or when
the room asks: see ACK_BATCH). A slot is reused only once every helper it
went to acked it; when the ring comes round to a slot still held, messages
wait, the room asks the slot's holders for their acks, and evicts (SIGKILL)
those that still hold it STUCK_AFTER later. Out of descriptors, the room stops watching the listener
until a client leaves or PAUSED_WAIT has passed. Deadlines (idle users, a
full ring's, the next try to accept) are epoll_wait's timeout. No flow
control (lab 1's fixtures cover it). No sleeps anywhere.
"""

import collections
import errno
import fcntl
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
# How long the holders of the slot a full ring needs may keep it, counted
# from when the room started waiting for it, before they count as stuck.
STUCK_AFTER = 2.0
# How long the loop sleeps while out of descriptors before it tries again.
PAUSED_WAIT = 1.0
# A helper acks the slots it copied in batches of this many, or at once
# when the room asks (ORDER_ACKS, when the ring is full). A Python helper
# takes a good 100 ms of CPU to start on a loaded machine; an ack per copy
# would wake the room once per helper per message while a crowd of them
# starts, and room/emfile counts those wake-ups as busy.
ACK_BATCH = 64
# At most this many helpers starting at once: the room takes no newcomer
# while as many helpers have not yet said they run (REPORT_READY). Forty
# Python interpreters starting together on two cores take seconds, and the
# room would serve their first lines long after it ran out of descriptors,
# while room/emfile measures it idle.
MAX_STARTING = 2
HERE = os.path.dirname(os.path.abspath(__file__))

# The records on the pipes: a header of two native u32, kind then value.
# Room to helper (orders): SLOT (copy slot VALUE of the ring), IDLE (your
# client was idle VALUE seconds: say so, then end), TEXT (no shared memory:
# slot VALUE's message follows, a u32 length and its bytes; copy it), ACKS
# (ack every slot you copied, now). Helper to room (reports): ACK (I copied
# slot VALUE), LINE (my client sent a line of VALUE bytes, which follow),
# READY (I run: my first report).
ORDER = struct.Struct("II")
LENGTH = struct.Struct("I")
ORDER_SLOT = 1
ORDER_IDLE = 4
ORDER_TEXT = 5
ORDER_ACKS = 6
REPORT_ACK = 1
REPORT_LINE = 2
REPORT_READY = 3


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
        self.pid = pid        # None once reaped: never signalled again
        self.tag = tag
        self.up = up          # read end: records from the helper
        self.down = down      # write end: orders to it
        self.reports = bytearray()
        self.holds = set()    # slots sent to it and not acked yet
        self.deadline = None
        self.leaving = False  # told it was idle: it ends, gets nothing more
        self.gone = False     # removed from the room
        self.starting = True  # no REPORT_READY yet


class Room:
    # Defects override these.
    use_self_pipe = True
    reap_on_sigchld = True
    idle_resets = True
    unlink_on_exit = True
    use_shm = True
    stuck_deadline_wakes = True
    helper_flags = []

    def __init__(self, listener, idle):
        self.listener = listener
        self.idle = idle
        self.helpers = {}     # up fd -> Helper
        self.holders = [0] * SLOTS
        self.next_slot = 0
        self.waiting = collections.deque()  # (message, recipients)
        self.full_since = None
        self.accepting = True     # False while out of descriptors
        self.watching = True      # whether the listener is in the epoll set
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
            for helper in self.helpers.values():
                if helper.pid == pid:
                    helper.pid = None

    # ------------------------------------------------------------ the loop

    def serve(self):
        print(f"listening on 0.0.0.0:{self.listener.getsockname()[1]}", flush=True)
        while not self.stopping:
            events = self.epoll.poll(self.timeout())
            for fd, _ in events:
                if fd == self.listener.fileno():
                    self.accept()
                elif self.use_self_pipe and fd == self.wake_r:
                    self.on_signals()
                elif fd in self.helpers:
                    self.from_helper(self.helpers[fd])
            if not self.accepting and not events:
                self.resume_accepting()
            self.expire()
            self.pump()
        self.shutdown()

    def deadlines(self):
        """When the loop must wake even if nothing happens: the idle
        deadlines, the moment a full ring's holders count as stuck, and the
        next try to accept while out of descriptors."""
        found = [h.deadline for h in self.helpers.values() if h.deadline is not None]
        if self.full_since is not None and self.stuck_deadline_wakes:
            found.append(self.full_since + STUCK_AFTER)
        if not self.accepting:
            found.append(time.monotonic() + PAUSED_WAIT)
        return found

    def timeout(self):
        deadlines = self.deadlines()
        if not deadlines:
            return -1
        left = min(deadlines) - time.monotonic()
        return max(0.0, left) + 0.0005

    def expire(self):
        now = time.monotonic()
        for helper in list(self.helpers.values()):
            if helper.deadline is not None and helper.deadline <= now:
                helper.deadline = None
                helper.leaving = True
                # Its helper tells its client and ends: the room sees its
                # pipe close and announces the leave.
                self.order(helper, ORDER_IDLE, self.idle)

    # ------------------------------------------------------------ newcomers

    def accept(self):
        # The helper's pipes first: without descriptors for them, the
        # newcomer waits in the backlog until a client leaves.
        try:
            pipes = make_pipes()
        except OSError as err:
            if err.errno in (errno.EMFILE, errno.ENFILE):
                return self.out_of_descriptors()
            raise
        try:
            sock, (ip, port) = self.listener.accept()
        except OSError as err:
            close_all(pipes)
            if err.errno in (errno.EMFILE, errno.ENFILE):
                return self.out_of_descriptors()
            if not isinstance(err, BlockingIOError):
                log(f"accept failed: {err}")
            return
        tag = f"[{ip}:{port}]"
        try:
            helper = self.spawn(sock, tag, pipes)
        except OSError as err:
            log(f"could not start a helper: {err}")
            sock.close()
            close_all(pipes)
            return self.out_of_descriptors()
        sock.close()
        # Told before it joins, so it is not among the recipients.
        self.post(helper, f"{tag} (connected)\n".encode())
        self.helpers[helper.up] = helper
        self.epoll.register(helper.up, select.EPOLLIN)
        self.watch_listener()
        if self.idle:
            helper.deadline = time.monotonic() + self.idle
        log(f"{tag} connected (helper {helper.pid})")

    def out_of_descriptors(self):
        """Stops watching the listener until a client leaves (or the next
        try, PAUSED_WAIT later): level-triggered, it would stay ready."""
        if self.accepting:
            self.accepting = False
            self.watch_listener()
            log("out of file descriptors: new clients wait until one leaves")

    def resume_accepting(self):
        if not self.accepting:
            self.accepting = True
            self.watch_listener()

    def watch_listener(self):
        """Watches the listener unless out of descriptors or MAX_STARTING
        helpers are starting."""
        starting = sum(1 for h in self.helpers.values() if h.starting)
        want = self.accepting and starting < MAX_STARTING
        if want and not self.watching:
            self.epoll.register(self.listener.fileno(), select.EPOLLIN)
        elif self.watching and not want:
            self.epoll.unregister(self.listener.fileno())
        self.watching = want

    def helper_args(self, sock, down_r, up_w):
        return [str(sock.fileno()), str(down_r), str(up_w)]

    def in_child(self, sock, down_r, up_w):
        for fd in (sock.fileno(), down_r, up_w):
            os.set_inheritable(fd, True)

    def spawn(self, sock, tag, pipes):
        down_r, down_w, up_r, up_w = pipes
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
                    signal.signal(sig, signal.SIG_DFL)
                self.in_child(sock, down_r, up_w)
                args = self.helper_args(sock, down_r, up_w)
                flags = list(self.helper_flags) + ([] if self.use_shm else ["--no-shm"])
                # -S: no site packages, so that a helper starts quickly.
                os.execv(sys.executable, [sys.executable, "-S", os.path.join(HERE, "room_helper.py")]
                         + args + flags)
            finally:
                os._exit(127)
        os.close(down_r)
        os.close(up_w)
        # The room never waits on a helper: a full pipe means it is stuck.
        os.set_blocking(up_r, False)
        os.set_blocking(down_w, False)
        if not self.use_shm:
            # Whole messages go down the pipe: room for a ring's worth.
            try:
                fcntl.fcntl(down_w, fcntl.F_SETPIPE_SZ, 1 << 20)
            except OSError:
                pass
        return Helper(pid, tag, up_r, down_w)

    # ------------------------------------------------------------ helpers

    def from_helper(self, helper):
        try:
            data = os.read(helper.up, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.remove(helper)
            return
        helper.reports += data
        for kind, value, line in take_records(helper.reports, REPORT_LINE):
            if kind == REPORT_READY:
                helper.starting = False
                self.watch_listener()
            elif kind == REPORT_ACK:
                if value in helper.holds:
                    helper.holds.discard(value)
                    self.holders[value] -= 1
            elif kind == REPORT_LINE:
                if self.idle and self.idle_resets and not helper.leaving:
                    helper.deadline = time.monotonic() + self.idle
                self.post(helper, helper.tag.encode() + b" " + line + b"\n")

    def remove(self, helper):
        """Its helper ended (its pipe closed) or was ended: it holds no
        slot any more, and the others are told."""
        if helper.gone:
            return
        helper.gone = True
        self.epoll.unregister(helper.up)
        os.close(helper.up)
        os.close(helper.down)
        del self.helpers[helper.up]
        for slot in helper.holds:
            self.holders[slot] -= 1
        helper.holds.clear()
        self.post(helper, f"{helper.tag} (disconnected)\n".encode())
        log(f"{helper.tag} disconnected")
        self.accepting = True
        self.watch_listener()

    def evict(self, helper, why):
        """Kills a helper that cannot be trusted to go on (SIGKILL also ends
        a stopped one) and removes its client at once."""
        log(f"{helper.tag}: {why}")
        pid = helper.pid  # read once, as in shutdown
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.remove(helper)

    def order(self, helper, kind, value, payload=None):
        """Writes one order down a helper's pipe; a pipe that is full or
        broken means the helper is stuck or gone: it is evicted."""
        record = ORDER.pack(kind, value)
        if payload is not None:
            record += LENGTH.pack(len(payload)) + payload
        try:
            written = os.write(helper.down, record)
        except OSError:
            written = 0
        if written != len(record):
            self.evict(helper, "its pipe failed")
            return False
        return True

    # ------------------------------------------------------------ the ring

    def post(self, sender, message):
        """Queues a message for everyone present but `sender`."""
        recipients = [h for h in self.helpers.values() if h is not sender and not h.leaving]
        self.waiting.append((message, recipients))

    def pump(self):
        """Moves the waiting messages into the ring while the next slot is
        free, and sends each slot's number to its recipients. A slot still
        held waits for acks; held STUCK_AFTER past when the ring filled,
        its holders are stuck and evicted."""
        while self.waiting:
            slot = self.next_slot
            if self.holders[slot] > 0:
                now = time.monotonic()
                if self.full_since is None:
                    self.full_since = now
                    for helper in [h for h in self.helpers.values() if slot in h.holds]:
                        self.order(helper, ORDER_ACKS, 0)
                if now < self.full_since + STUCK_AFTER:
                    return
                for helper in [h for h in self.helpers.values() if slot in h.holds]:
                    self.evict(helper, "stuck: its helper did not copy a message in time")
                continue
            message, recipients = self.waiting.popleft()
            self.full_since = None
            self.next_slot = (slot + 1) % SLOTS
            if self.use_shm:
                start = slot * SLOT_SIZE
                self.ring[start:start + 4 + len(message)] = LENGTH.pack(len(message)) + message
            for helper in recipients:
                if helper.gone or helper.leaving:
                    continue
                if self.use_shm:
                    sent = self.order(helper, ORDER_SLOT, slot)
                else:
                    sent = self.order(helper, ORDER_TEXT, slot, message)
                if sent:
                    helper.holds.add(slot)
                    self.holders[slot] += 1
        self.full_since = None

    def shutdown(self):
        for helper in list(self.helpers.values()):
            # Read once: the no_self_pipe room reaps in its SIGCHLD handler,
            # which may run between two statements and clear helper.pid.
            pid = helper.pid
            if pid is not None:
                for sig in (signal.SIGTERM, signal.SIGCONT):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        if self.use_shm and self.unlink_on_exit:
            os.unlink(self.path)


def make_pipes():
    """The two pipes of a helper: (down_r, down_w, up_r, up_w)."""
    down_r, down_w = os.pipe()
    try:
        up_r, up_w = os.pipe()
    except OSError:
        close_all((down_r, down_w))
        raise
    return (down_r, down_w, up_r, up_w)


def close_all(fds):
    for fd in fds:
        os.close(fd)


def take_records(buffer, with_text):
    """Cuts the complete records off the front of `buffer` (a bytearray):
    a list of (kind, value, text). A record of kind `with_text` has its
    text after the header: VALUE bytes for a line, a length and that many
    bytes for an order."""
    found = []
    at = 0
    while len(buffer) - at >= ORDER.size:
        kind, value = ORDER.unpack_from(buffer, at)
        text = b""
        end = at + ORDER.size
        if kind == with_text == REPORT_LINE:
            if len(buffer) < end + value:
                break
            text = bytes(buffer[end:end + value])
            end += value
        elif kind == with_text == ORDER_TEXT:
            if len(buffer) < end + LENGTH.size:
                break
            (length,) = LENGTH.unpack_from(buffer, end)
            if len(buffer) < end + LENGTH.size + length:
                break
            text = bytes(buffer[end + LENGTH.size:end + LENGTH.size + length])
            end += LENGTH.size + length
        found.append((kind, value, text))
        at = end
    del buffer[:at]
    return found


# ---------------------------------------------------------------- the helper


def run_helper(argv):
    """`room_helper.py FD PIPE_IN PIPE_OUT [--no-shm] [--ack-when-sent]`."""
    use_shm = "--no-shm" not in argv
    ack_when_sent = "--ack-when-sent" in argv
    argv = [a for a in argv if not a.startswith("--")]
    fd = 0 if argv[0] == "stdin" else int(argv[0])
    down, up = int(argv[1]), int(argv[2])
    sock = socket.socket(fileno=fd)
    sock.setblocking(False)
    ring = None
    if use_shm:
        path = shm_path(os.getppid())
        ring = map_ring(os.open(path, os.O_RDWR), path)
    outbox = bytearray()
    queued = 0             # bytes ever put in the outbox
    sent_total = 0         # bytes ever written to the client
    unsent = collections.deque()  # --ack-when-sent: (end in the stream, slot)
    ackable = []           # slots copied (--ack-when-sent: sent), not acked
    orders = bytearray()
    partial = b""

    # What goes up to the room, written once per round: one wake-up of the
    # room for the round's lines and acks (and, in the first round, for
    # REPORT_READY and the lines the client sent while the helper started).
    outgoing = bytearray(ORDER.pack(REPORT_READY, 0))

    def send_up():
        if outgoing:
            os.write(up, outgoing)
            outgoing.clear()

    def report(line):
        outgoing.extend(ORDER.pack(REPORT_LINE, len(line)) + line)

    def ack_all():
        for slot in ackable:
            outgoing.extend(ORDER.pack(REPORT_ACK, slot))
        ackable.clear()

    def may_ack(slot):
        ackable.append(slot)
        if len(ackable) >= ACK_BATCH:
            ack_all()

    def finish():
        if partial:
            report(partial)
        send_up()
        sys.exit(0)

    def flush_and_end(last=b""):
        try:
            sock.setblocking(True)
            sock.sendall(outbox + last)
            send_up()
        except OSError:
            pass
        sys.exit(0)

    while True:
        poller = select.poll()
        poller.register(fd, select.POLLIN | (select.POLLOUT if outbox else 0))
        poller.register(down, select.POLLIN)
        for ready, events in poller.poll():
            if ready == down:
                data = os.read(down, 65536)
                if not data:
                    flush_and_end()
                orders += data
                for kind, value, text in take_records(orders, ORDER_TEXT):
                    if kind == ORDER_IDLE:
                        flush_and_end(f"[SERVER] Disconnected: idle for {value} s.\n".encode())
                    if kind == ORDER_ACKS:
                        ack_all()
                        continue
                    if kind == ORDER_SLOT:
                        start = value * SLOT_SIZE
                        (length,) = LENGTH.unpack(ring[start:start + 4])
                        text = ring[start + 4:start + 4 + length]
                    outbox += text
                    queued += len(text)
                    if ack_when_sent:
                        unsent.append((queued, value))
                    else:
                        may_ack(value)
            elif events & select.POLLOUT and outbox:
                try:
                    sent = sock.send(outbox)
                    del outbox[:sent]
                    sent_total += sent
                except BlockingIOError:
                    pass
                except OSError:
                    finish()
                while unsent and unsent[0][0] <= sent_total:
                    may_ack(unsent.popleft()[1])
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
        send_up()


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


class SlowReaderStallsRoom(Room):
    """Its helpers ack a slot once its message reached the client, not once
    copied: a client that does not read holds the ring."""

    helper_flags = ["--ack-when-sent"]


class FullRingSleepsRoom(Room):
    """A full ring's stuck deadline is checked after each round but is not
    among epoll_wait's deadlines: with nothing else to wake it, the room
    sleeps for ever."""

    stuck_deadline_wakes = False


class EmfileSpinsRoom(Room):
    """Out of descriptors it gives up on the newcomer for now, as lab 1's
    server skips a failed accept, and goes on watching the listener, which
    stays readable: epoll_wait returns at once, again and again."""

    def out_of_descriptors(self):
        pass


DEFECTS = {
    None: Room,
    "no_fd_arg": NoFdArgRoom,
    "leaky_fds": LeakyFdsRoom,
    "no_reap": NoReapRoom,
    "no_self_pipe": NoSelfPipeRoom,
    "no_shm": NoShmRoom,
    "idle_no_reset": IdleNoResetRoom,
    "sigterm_keeps_shm": SigtermKeepsShmRoom,
    "slow_reader_stalls": SlowReaderStallsRoom,
    "full_ring_sleeps": FullRingSleepsRoom,
    "emfile_spins": EmfileSpinsRoom,
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
