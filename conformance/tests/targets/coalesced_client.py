"""Client that pipelines: its presence and a second request go out in one write.

Models: PROTOCOL.md §framing (W3: one object per write; W4: never pipeline) and §order (O3:
clients wait for a response before the next request); jim-protocol.md §1 ("Two requests in
one TCP write broke every student server tried").

Dialect: spec.

Behaviour: sends presence + get_contacts as one sendall (two compact JSON objects, each followed
by a newline), then reads two replies as a stream, prints them and exits 0 if the first was 2xx,
1 otherwise (3 on timeout or close).

Expected verdicts: fails the client check "no pipelining / one message per write" in the spec
profile (the referee receives the second request before it answered the presence).

Run: python3 coalesced_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import sys
import time


class Replies:
    def __init__(self, sock):
        self.sock = sock
        self.buf = ""

    def next(self):
        decoder = json.JSONDecoder()
        while True:
            self.buf = self.buf.lstrip()
            if self.buf:
                try:
                    value, end = decoder.raw_decode(self.buf)
                    self.buf = self.buf[end:]
                    return value
                except ValueError:
                    pass
            data = self.sock.recv(4096)
            if not data:
                raise EOFError
            self.buf += data.decode("utf-8", "replace")


def send(sock, message):
    sock.sendall(json.dumps(message).encode() + b"\n")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("-n", "--name", default="Guest")
    args = parser.parse_args()

    presence = {"action": "presence", "time": time.time(), "type": "status",
                "user": {"account_name": args.name, "status": "online"}}
    contacts = {"action": "get_contacts", "time": time.time()}
    sock = socket.create_connection((args.host, args.port), timeout=10)
    replies = Replies(sock)
    try:
        # The bug: both requests in one write, without waiting for the first answer.
        sock.sendall(json.dumps(presence).encode() + b"\n" + json.dumps(contacts).encode() + b"\n")
        first = replies.next()
        print(json.dumps(first))
        print(json.dumps(replies.next()))
    except (EOFError, socket.timeout):
        print("no reply", file=sys.stderr)
        return 3
    code = first.get("response") if isinstance(first, dict) else None
    return 0 if str(code).startswith("2") else 1


if __name__ == "__main__":
    sys.exit(main())
