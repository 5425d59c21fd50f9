"""A correct spec-dialect client, written outside the team.

Models: jim-protocol.md §1 and §4 (stream reading; probe answered with presence) and
PROTOCOL.md §presence, §probe, §order (O5: relays and probes are not responses),
§framing (a stream reader: replies may arrive split or glued together) and §lesson3 (one-shot
mode prints the outcome and exits 0).

Dialect: spec.

Behaviour: connects, sends {"action":"presence","time":T,"type":"status",
"user":{"account_name":NAME,"status":"online"}} (one sendall, compact JSON plus newline), then
prints every message it receives as one JSON line. A probe is answered with a fresh presence.
  --once: exit 0 when the presence gets a 2xx response, 1 for another code or if the server
          closes first, 3 if no response comes within 10 s;
  otherwise: keeps reading until stdin reaches end of file, then sends {"action":"quit","time":T}
          and exits 0 (1 if the server closed the connection first).

Expected verdicts: passes the client-conformance checks of the spec and lesson3 profiles, under
whole, split, trickle and coalesced delivery of the referee's replies.

Run: python3 good_client.py HOST PORT [-n NAME] [--once]
"""

import argparse
import codecs
import json
import socket
import sys
import threading
import time


class Reader(threading.Thread):
    """Reads the socket, splits the stream into JSON values, prints them, answers probes."""

    def __init__(self, sock, name):
        super().__init__(daemon=True)
        self.sock = sock
        self.name = name
        self.first_response = None
        self.got_response = threading.Event()
        self.closed = threading.Event()

    def run(self):
        decoder = json.JSONDecoder()
        utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buf = ""
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    break
                buf += utf8.decode(data)        # keeps a cut multi-byte character for later
                while True:
                    buf = buf.lstrip()
                    if not buf:
                        break
                    try:
                        value, end = decoder.raw_decode(buf)
                    except json.JSONDecodeError:
                        if not complete(buf):
                            break               # incomplete: wait for more bytes
                        print(f"bad data from server: {buf[:60]!r}", file=sys.stderr)
                        skip = buf.find("{", 1)
                        buf = buf[skip:] if skip > 0 else ""
                        continue
                    buf = buf[end:]
                    self.handle(value)
        except OSError:
            pass
        self.closed.set()

    def handle(self, value):
        print(json.dumps(value), flush=True)
        if not isinstance(value, dict):
            return
        if value.get("action") == "probe":
            send(self.sock, presence(self.name))
        elif "response" in value and self.first_response is None:
            self.first_response = value
            self.got_response.set()


def complete(text):
    """True if text holds a whole top-level object (so a decode error is a real error)."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            depth += 1
        elif ch in "}]":
            depth -= 1
            if depth == 0:
                return True
    return not text.startswith(("{", "["))


def presence(name):
    return {"action": "presence", "time": time.time(), "type": "status",
            "user": {"account_name": name, "status": "online"}}


def send(sock, message):
    sock.sendall(json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("-n", "--name", default="Guest")
    parser.add_argument("--once", action="store_true")
    args = parser.parse_args()

    try:
        sock = socket.create_connection((args.host, args.port), timeout=10)
    except OSError as err:
        print(f"cannot connect: {err}", file=sys.stderr)
        return 3
    sock.settimeout(None)
    reader = Reader(sock, args.name)
    reader.start()
    send(sock, presence(args.name))

    # Wait for the response to the presence (or for the server to close).
    deadline = time.time() + 10
    while not reader.got_response.is_set() and not reader.closed.is_set():
        if time.time() > deadline:
            print("no response to presence", file=sys.stderr)
            return 3
        reader.got_response.wait(0.05)
    if not reader.got_response.is_set():
        print("server closed the connection", file=sys.stderr)
        return 1
    try:
        code = int(reader.first_response.get("response"))
    except (TypeError, ValueError):
        code = 0
    if args.once or not 200 <= code < 300:
        return 0 if 200 <= code < 300 else 1

    eof = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), eof.set()), daemon=True).start()
    while not eof.is_set():
        if reader.closed.is_set():
            print("server closed the connection", file=sys.stderr)
            return 1
        eof.wait(0.05)
    try:
        send(sock, {"action": "quit", "time": time.time()})
    except OSError:
        pass
    sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
