"""Lesson-3 client that raises an uncaught exception when the server answers 400.

Models: the held-out student client whose `check_answer` raises `ServerError` on any code but
200 and nothing catches it: a traceback and exit status 1 where a clean message and a non-zero
exit are due (PROTOCOL.md §lesson3, jim-protocol.md: the client reports the refusal).

Dialect: lesson 3 (one presence, one reply, exit).

Behaviour: sends {"action":"presence","time":T,"user":{"account_name":NAME}}, reads one reply,
prints "200" on success and exits 0; on any other code raises ServerError (traceback, status 1).

Expected verdicts: `client/lesson3/refused` fails at should level (its hint quotes the
traceback); the other lesson-3 client cases pass.

Run: python3 crash_on_400_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import time


class ServerError(Exception):
    pass


def check_answer(answer):
    if answer.get("response") == 200:
        return "200"
    raise ServerError(f"сервер вернул {answer.get('response')}: {answer.get('error')}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("-n", "--name", default="Guest")
    a = p.parse_args()
    presence = {"action": "presence", "time": time.time(), "user": {"account_name": a.name}}
    s = socket.create_connection((a.host, a.port), timeout=10)
    s.sendall(json.dumps(presence).encode("utf-8"))
    data = s.recv(1024)
    s.close()
    print(check_answer(json.JSONDecoder().raw_decode(data.decode("utf-8").strip())[0]))


if __name__ == "__main__":
    main()
