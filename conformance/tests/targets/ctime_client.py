"""Lesson-3 client whose presence carries a formatted date instead of a Unix time.

Models: PROTOCOL.md §time (a Unix time in seconds, like time.time()) and the held-out student
client that writes `time.ctime()` "so that the server log is readable".

Dialect: lesson 3 (one presence, one reply, exit).

Behaviour: sends {"action":"presence","time":"Wed Dec  2 11:45:37 2026","user":{"account_name":
NAME,"status":"online"}}, reads one reply, prints it and exits 0 on 200, 1 otherwise (3 on a
timeout or close).

Expected verdicts: `client/common/presence-time` fails (its mismatch text names the date it
got); the other lesson-3 client cases pass.

Run: python3 ctime_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("-n", "--name", default="Guest")
    a = p.parse_args()
    presence = {
        "action": "presence",
        "time": time.ctime(),
        "user": {"account_name": a.name, "status": "online"},
    }
    s = socket.create_connection((a.host, a.port), timeout=10)
    s.sendall(json.dumps(presence).encode("utf-8"))
    try:
        data = s.recv(1024)
    except OSError:
        sys.exit(3)
    finally:
        s.close()
    if not data:
        sys.exit(3)
    try:
        answer = json.JSONDecoder().raw_decode(data.decode("utf-8").strip())[0]
    except ValueError:
        print("сервер прислал что-то непонятное")
        sys.exit(1)
    print(answer)
    sys.exit(0 if answer.get("response") == 200 else 1)


if __name__ == "__main__":
    main()
