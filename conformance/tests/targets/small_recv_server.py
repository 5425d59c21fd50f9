"""A lesson-3 one-shot server that reads with recv(100).

Models: the held-out student server that reads "not more than 100 bytes, a presence is small":
the lesson-3 presence (action, time, user.account_name: about 80 bytes) fits, the spec-form
presence (with "type" and "status", about 120 bytes) is cut, fails json.loads and gets
{"response": 400, "error": "Bad Request"}. Every connection gets one reply and is closed; any
name is accepted.

Dialect: course (lesson 3).

Expected verdicts: `--profile auto` picks lesson3 (the preflight retries a refused spec-form
presence in the lesson-3 form, which gets 200, and the next request finds the connection
closed); lesson3/presence passes; a spec-form presence fails.

Run: python3 small_recv_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import socket
import time


def answer(data):
    try:
        message = json.loads(data.decode("utf-8"))
        if message["action"] == "presence" and message["user"]["account_name"]:
            return {"response": 200, "time": int(time.time())}
    except (ValueError, KeyError, TypeError):
        pass
    return {"response": 400, "time": int(time.time()), "error": "Bad Request"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("-p", type=int, default=7777)
    p.add_argument("-a", default="127.0.0.1")
    a = p.parse_args()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((a.a, a.p))
    srv.listen()
    while True:
        conn, _ = srv.accept()
        with conn:
            data = conn.recv(100)
            if data:
                conn.sendall(json.dumps(answer(data)).encode())


if __name__ == "__main__":
    main()
