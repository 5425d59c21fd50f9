"""Client that assumes one recv() returns exactly one JSON message.

Models: jim-protocol.md §1 ("Servers often write two objects back to back ... the peer
receives {...}{...} in one read. A robust reader must decode a stream of JSON values") and
PROTOCOL.md §framing (D6) and §order (O5: a probe may arrive right after a response).

Dialect: spec.

Behaviour: sends a spec presence, then loops: data = sock.recv(1024); msg = json.loads(data);
prints msg; answers a probe with a presence; exits 0 when the server closes the connection
(exit 1 if the presence was refused). Nothing catches the json.loads error.

Expected verdicts: passes when every reply comes in its own read (whole delivery, replies
spaced out). Fails the client check with coalesced replies: {"response":200}{"action":"probe",
"time":T} in one read makes json.loads raise "Extra data"; the client dies with a traceback and
exit status 1, never answering the probe. Split replies kill it the same way.

Run: python3 single_read_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import sys
import time


def presence(name):
    return {"action": "presence", "time": time.time(), "type": "status",
            "user": {"account_name": name, "status": "online"}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("-n", "--name", default="Guest")
    args = parser.parse_args()

    sock = socket.create_connection((args.host, args.port), timeout=10)
    sock.settimeout(None)
    sock.send(json.dumps(presence(args.name)).encode())
    first = True
    while True:
        data = sock.recv(1024)
        if not data:
            return 0
        msg = json.loads(data.decode("utf-8"))     # one read = one message, or so it thinks
        print(json.dumps(msg), flush=True)
        if first:
            first = False
            if msg.get("response") != 200:
                return 1
        if msg.get("action") == "probe":
            sock.send(json.dumps(presence(args.name)).encode())


if __name__ == "__main__":
    sys.exit(main())
