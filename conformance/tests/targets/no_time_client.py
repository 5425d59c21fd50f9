"""Client whose presence has no "time".

Models: PROTOCOL.md §presence (`time`: should), §time ("every client message SHOULD carry
`time`; the spec requires it except on quit ... the referee reports it") and jim-protocol.md
§2a ("Every client message has `action` and `time`").

Dialect: spec.

Behaviour: sends {"action":"presence","type":"status","user":{"account_name":NAME,
"status":"online"}} (no time), reads the reply as a stream, prints it and exits 0 if it was
2xx, 1 otherwise (3 on timeout or close).

Expected verdicts: fails the client check "presence carries a usable time" (spec profile, must
level); in the lesson3 profile a missing time is reported at should level (pass-lenient with a
warning, per §lesson3).

Run: python3 no_time_client.py HOST PORT [-n NAME]
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

    sock = socket.create_connection((args.host, args.port), timeout=10)
    replies = Replies(sock)
    try:
        send(sock, {"action": "presence", "type": "status",          # no "time"
                    "user": {"account_name": args.name, "status": "online"}})
        reply = replies.next()
        print(json.dumps(reply))
    except (EOFError, socket.timeout):
        print("no reply", file=sys.stderr)
        return 3
    code = reply.get("response") if isinstance(reply, dict) else None
    return 0 if str(code).startswith("2") else 1


if __name__ == "__main__":
    sys.exit(main())
