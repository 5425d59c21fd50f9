#!/usr/bin/env python3
"""A JIM client (spec dialect), written the way a careful student would.

    python3 client.py HOST [PORT] [-n NAME] [--once]

It connects, sends a presence and waits for the answer.

--once (lesson 3): print the answer as "<code> <text>" and exit with
    0 if the code is 2xx, 1 for any other code, 2 if the answer is not a JIM
    response (not JSON, or no response code), 3 if there is no answer within
    5 seconds or the connection fails.

Otherwise (interactive): after a 2xx answer, read commands from stdin, one per
line, and print every message from the server as one JSON line on stdout:
    /msg USER TEXT     /room #ROOM TEXT   /join #ROOM   /leave #ROOM
    /contacts          /add USER          /del USER     /quit
A probe from the server is answered with a fresh presence. On /quit or end of
stdin the client sends quit and exits 0; it exits 1 if the server closes the
connection first or refuses the presence.

The incoming byte stream is decoded value by value, so replies that arrive
glued together ({...}{...}) or in pieces are handled.
"""

import argparse
import json
import queue
import re
import select
import socket
import sys
import threading
import time

REPLY_TIMEOUT = 5.0
MAX_MESSAGE_BYTES = 64 * 1024

EXIT_OK, EXIT_REFUSED, EXIT_NOT_JIM, EXIT_NO_REPLY = 0, 1, 2, 3

_SPACE = re.compile(rb"[ \t\r\n]*")
_OUTSIDE = re.compile(rb'[\[\]{}"]')
_INSIDE = re.compile(rb'["\\]')
_TOKEN_END = re.compile(rb'[ \t\r\n\[{"]')


def value_end(buf, start):
    """Index just past the JSON value starting at buf[start], -1 if incomplete.

    Objects/arrays end at the matching bracket (ignoring brackets in strings),
    strings at the closing quote, other tokens before whitespace, '{', '[', '"'.
    """
    if buf[start:start + 1] not in (b"{", b"[", b'"'):
        match = _TOKEN_END.search(buf, start)
        return match.start() if match else -1
    depth, in_string, pos = 0, False, start
    while True:
        match = (_INSIDE if in_string else _OUTSIDE).search(buf, pos)
        if match is None:
            return -1
        char, pos = buf[match.start():match.end()], match.end()
        if in_string:
            if char == b"\\":
                pos += 1
            else:
                in_string = False
                if depth == 0:
                    return pos
        elif char == b'"':
            in_string = True
        elif char in (b"{", b"["):
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos


class StreamDecoder:
    """Feed bytes, get (value, error) pairs; incomplete values wait for more bytes."""

    def __init__(self):
        self.buffer = bytearray()
        self._json = json.JSONDecoder()

    def feed(self, data):
        self.buffer += data
        items = []
        while True:
            start = _SPACE.match(self.buffer).end()
            if start == len(self.buffer):
                self.buffer.clear()
                break
            end = value_end(self.buffer, start)
            if end < 0:
                del self.buffer[:start]
                if len(self.buffer) > MAX_MESSAGE_BYTES:
                    items.append((None, "message too large"))
                    self.buffer.clear()
                break
            chunk = bytes(self.buffer[start:end])
            del self.buffer[:end]
            try:
                value, used = self._json.raw_decode(chunk.decode("utf-8"))
                if used != len(chunk.decode("utf-8")):
                    raise ValueError("extra data")
                items.append((value, None))
            except ValueError:          # JSONDecodeError and UnicodeDecodeError
                items.append((None, f"not JSON: {chunk[:80]!r}"))
        return items

    def leftover(self):
        """Bytes that never formed a complete value (useful at end of stream)."""
        return bytes(self.buffer).strip()


def now():
    return time.time()


def presence(name):
    return {"action": "presence", "time": now(), "type": "status",
            "user": {"account_name": name, "status": "online"}}


def response_code(message):
    """The response code as an int (also accepts "200"), or None."""
    if not isinstance(message, dict):
        return None
    code = message.get("response")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    return None


def response_text(message):
    for key in ("alert", "error", "message"):
        if isinstance(message.get(key), str):
            return message[key]
    return ""


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.decoder = StreamDecoder()
        self.pending = []           # decoded but not yet consumed (value, error) pairs

    def send(self, message):
        # One message, one sendall; compact JSON (non-ASCII as \u escapes) with a newline.
        data = json.dumps(message, separators=(",", ":"))
        self.sock.sendall(data.encode("ascii") + b"\n")

    def read_some(self, timeout):
        """Wait up to timeout for bytes; returns False if the server closed."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return True
        try:
            data = self.sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            return False
        self.pending.extend(self.decoder.feed(data))
        return True

    def next_item(self, timeout):
        """Next (value, error) pair, or None on timeout. Raises EOFError on close."""
        deadline = now() + timeout
        while not self.pending:
            left = deadline - now()
            if left <= 0:
                return None
            if not self.read_some(left):
                raise EOFError(self.decoder.leftover())
        return self.pending.pop(0)


def print_json(message):
    print(json.dumps(message, separators=(",", ":")), flush=True)


def wait_for_presence_reply(conn, name):
    """Return (code, message) for the presence answer, answering probes on the way.

    code is None (with an explanation as message) if the answer was not JIM.
    Raises EOFError / TimeoutError like next_item.
    """
    deadline = now() + REPLY_TIMEOUT
    while True:
        item = conn.next_item(max(0.0, deadline - now()))
        if item is None:
            raise TimeoutError
        value, error = item
        if error is not None:
            return None, error
        if isinstance(value, dict) and value.get("action") == "probe":
            conn.send(presence(name))
            continue
        code = response_code(value)
        if code is None:
            return None, value
        return code, value


def run_once(conn, name):
    try:
        code, message = wait_for_presence_reply(conn, name)
    except TimeoutError:
        print("no reply within 5 seconds", file=sys.stderr)
        return EXIT_NO_REPLY
    except EOFError as err:
        if err.args and err.args[0]:
            print(f"not a JIM reply: {err.args[0][:80]!r}", file=sys.stderr)
            return EXIT_NOT_JIM
        print("the server closed the connection without a reply", file=sys.stderr)
        return EXIT_NO_REPLY
    if code is None:
        print(f"not a JIM reply: {message}", file=sys.stderr)
        return EXIT_NOT_JIM
    print(f"{code} {response_text(message)}".rstrip(), flush=True)
    return EXIT_OK if 200 <= code < 300 else EXIT_REFUSED


def parse_command(line, name):
    """Turn one stdin line into a message; returns "quit", a dict, or an error string."""
    parts = line.strip().split(maxsplit=2)
    if not parts:
        return None
    command, args = parts[0], parts[1:]
    t = now()
    if command == "/quit" and not args:
        return "quit"
    if command == "/msg" and len(args) == 2:
        return {"action": "msg", "time": t, "to": args[0], "from": name, "message": args[1]}
    if command == "/room" and len(args) == 2 and args[0].startswith("#"):
        return {"action": "msg", "time": t, "to": args[0], "from": name, "message": args[1]}
    if command in ("/join", "/leave") and len(args) == 1 and args[0].startswith("#"):
        return {"action": command[1:], "time": t, "room": args[0]}
    if command == "/contacts" and not args:
        return {"action": "get_contacts", "time": t}
    if command in ("/add", "/del") and len(args) == 1:
        action = "add_contact" if command == "/add" else "del_contact"
        return {"action": action, "time": t, "user_id": args[0]}
    return ("usage: /msg USER TEXT | /room #ROOM TEXT | /join #ROOM | /leave #ROOM | "
            "/contacts | /add USER | /del USER | /quit")


def read_stdin(lines, wake):
    """Runs in a thread: pass stdin lines to the main loop, then None at EOF."""
    for line in sys.stdin:
        lines.put(line)
        wake.send(b"x")
    lines.put(None)
    wake.send(b"x")


def run_interactive(conn, name):
    try:
        code, message = wait_for_presence_reply(conn, name)
    except TimeoutError:
        print("no reply to presence within 5 seconds", file=sys.stderr)
        return EXIT_NO_REPLY
    except EOFError:
        print("the server closed the connection", file=sys.stderr)
        return EXIT_REFUSED
    if code is None:
        print(f"not a JIM reply: {message}", file=sys.stderr)
        return EXIT_NOT_JIM
    print_json(message)
    if not 200 <= code < 300:
        return EXIT_REFUSED

    # stdin is read by a thread; it wakes the select() below through a socket pair.
    lines = queue.Queue()
    wake_read, wake_write = socket.socketpair()
    threading.Thread(target=read_stdin, args=(lines, wake_write), daemon=True).start()

    # We never pipeline: the next command waits until every request sent so far has
    # been answered (relays, probes and 205 pushes are not answers).
    commands = []           # stdin lines not sent yet; None marks end of input
    outstanding = 0         # requests sent and not answered yet
    quit_deadline = None    # stdin ended while waiting: give up waiting at this time
    while True:
        for value, error in conn.pending:
            if error is not None:
                print(f"ignored bytes from the server: {error}", file=sys.stderr)
                continue
            print_json(value)
            if isinstance(value, dict) and value.get("action") == "probe":
                conn.send(presence(name))
                outstanding += 1
            elif response_code(value) not in (None, 205) and outstanding > 0:
                outstanding -= 1
        conn.pending.clear()

        while commands and outstanding == 0:
            line = commands.pop(0)
            command = "quit" if line is None else parse_command(line, name)
            if command == "quit":
                conn.send({"action": "quit", "time": now()})
                return EXIT_OK
            if isinstance(command, dict):
                conn.send(command)
                outstanding += 1
            elif command:
                print(command, file=sys.stderr)
        if commands and commands[-1] is None and quit_deadline is None:
            quit_deadline = now() + REPLY_TIMEOUT
        if quit_deadline is not None and now() > quit_deadline:
            print("no reply to the last request; quitting anyway", file=sys.stderr)
            conn.send({"action": "quit", "time": now()})
            return EXIT_OK

        timeout = None if quit_deadline is None else max(0.0, quit_deadline - now())
        readable, _, _ = select.select([conn.sock, wake_read], [], [], timeout)
        if conn.sock in readable and not conn.read_some(0):
            print("the server closed the connection", file=sys.stderr)
            return EXIT_REFUSED
        if wake_read in readable:
            wake_read.recv(4096)
            while not lines.empty():
                commands.append(lines.get())


def main():
    parser = argparse.ArgumentParser(description="JIM client (spec dialect)")
    parser.add_argument("host", help="server address")
    parser.add_argument("port", nargs="?", type=int, default=7777, help="server port (7777)")
    parser.add_argument("-n", "--name", default="Guest", help="account name (Guest)")
    parser.add_argument("--once", action="store_true",
                        help="send presence, print the reply, exit (lesson 3)")
    args = parser.parse_args()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=REPLY_TIMEOUT)
    except OSError as err:
        print(f"cannot connect to {args.host}:{args.port}: {err}", file=sys.stderr)
        return EXIT_NO_REPLY
    sock.settimeout(None)           # select() does the waiting from now on
    conn = Connection(sock)
    try:
        conn.send(presence(args.name))
        if args.once:
            return run_once(conn, args.name)
        return run_interactive(conn, args.name)
    except KeyboardInterrupt:
        return EXIT_OK
    except OSError as err:
        print(f"connection error: {err}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main())
