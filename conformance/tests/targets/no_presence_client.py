"""Client that sends a message before logging in.

Models: PROTOCOL.md §order (O1: the first message SHOULD be a presence; other requests get 401)
and §transport ("the session gets its name from a successful presence"); jim-protocol.md §4.1
("Client connects and sends `presence` first").

Dialect: spec.

Behaviour: connects and sends {"action":"msg","time":T,"to":"Bob","from":NAME,"message":"hi"}
first; prints the reply; then sends its presence, prints that reply and exits 0 if it was 2xx,
1 otherwise (3 on timeout or close). Replies are read as a stream.

Expected verdicts: fails the client check "first message is a presence" in every profile (the
referee sees action msg first; a well-behaved partner answers it with 401).

Run: python3 no_presence_client.py HOST PORT [-n NAME]
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
        send(sock, {"action": "msg", "time": time.time(), "to": "Bob", "from": args.name,
                    "message": "hi"})
        print(json.dumps(replies.next()))
        send(sock, {"action": "presence", "time": time.time(), "type": "status",
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
