"""Client that sends the repr of the encoded bytes instead of the bytes.

Models: jim-protocol.md §1 (bytes are UTF-8 JSON) and PROTOCOL.md §resync (the "Python bytes repr" example): a student slip,
`sock.send(str(json.dumps(message).encode()).encode())`, which sends b'{"action": ...}' -
valid JSON wrapped in the characters b' and '.

Dialect: spec (the intended message is a spec presence).

Behaviour: sends the bytes repr once, reads one reply, prints it, exits 0 if it is a 2xx
response, 1 otherwise, 3 on timeout or close.

Expected verdicts: fails the client check "first message is a valid JSON presence" in every
profile: the referee decodes a Syntax item (b'), then the presence object, then another Syntax
item ('), and reports "bytes repr sent (b'...')". A lenient reader that resyncs may still answer
the presence, but the check fails on the junk around it.

Run: python3 bytes_repr_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("-n", "--name", default="Guest")
    args = parser.parse_args()

    message = {"action": "presence", "time": time.time(), "type": "status",
               "user": {"account_name": args.name, "status": "online"}}
    sock = socket.create_connection((args.host, args.port), timeout=10)
    sock.sendall(str(json.dumps(message).encode()).encode())   # the bug: str() of bytes
    data = b""
    try:
        while True:
            chunk = sock.recv(1024)
            if not chunk:
                print("server closed the connection", file=sys.stderr)
                return 3
            data += chunk
            try:
                reply, _ = json.JSONDecoder().raw_decode(data.decode("utf-8").lstrip())
                break
            except ValueError:
                continue
    except socket.timeout:
        print("no reply", file=sys.stderr)
        return 3
    print(json.dumps(reply))
    code = reply.get("response") if isinstance(reply, dict) else None
    return 0 if str(code).startswith("2") else 1


if __name__ == "__main__":
    sys.exit(main())
