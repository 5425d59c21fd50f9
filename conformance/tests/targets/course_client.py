"""Course-dialect lesson-3 client, as the course reference solution is written.

Models: jim-protocol.md §2b (course presence: {"action","time","user":{"account_name"}}) and
§1 ("one recv(N) + json.loads per message"); PROTOCOL.md §lesson3 and §framing.

Dialect: course. Sends one presence with json.dumps(...).encode() (no newline), reads the
answer with a single recv(1024) and json.loads, prints "200 : OK" or "400 : <error>" and exits:
0 for 200, 1 for anything else, including a reply it cannot decode ("Не удалось декодировать
сообщение сервера.").

Expected verdicts: lesson3 and course profiles, whole delivery: pass (presence without
`type`/`status` is fine; no newline is tolerated). Fails the client check with split or
trickled replies (the first recv holds half a JSON object) and with coalesced replies
({"response":200}{"action":"probe",...} is not one JSON document): it prints the decode error
and exits 1.

Run: python3 course_client.py HOST PORT [-n NAME]
"""

import argparse
import json
import socket
import sys
import time

ACTION = "action"
TIME = "time"
USER = "user"
ACCOUNT_NAME = "account_name"
PRESENCE = "presence"
RESPONSE = "response"
ERROR = "error"
MAX_PACKAGE_LENGTH = 1024
ENCODING = "utf-8"


def create_presence(account_name="Guest"):
    return {ACTION: PRESENCE, TIME: time.time(), USER: {ACCOUNT_NAME: account_name}}


def process_ans(message):
    if RESPONSE in message:
        if message[RESPONSE] == 200:
            return "200 : OK"
        return f"400 : {message.get(ERROR)}"
    raise ValueError


def get_message(client):
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    if isinstance(encoded_response, bytes):
        response = json.loads(encoded_response.decode(ENCODING))
        if isinstance(response, dict):
            return response
        raise ValueError
    raise ValueError


def send_message(sock, message):
    sock.send(json.dumps(message).encode(ENCODING))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("addr")
    parser.add_argument("port", type=int, nargs="?", default=7777)
    parser.add_argument("-n", "--name", default="Guest")
    args = parser.parse_args()

    transport = socket.socket(socket.AF_INET6 if ":" in args.addr else socket.AF_INET,
                              socket.SOCK_STREAM)
    transport.settimeout(10)
    transport.connect((args.addr, args.port))
    send_message(transport, create_presence(args.name))
    try:
        answer = process_ans(get_message(transport))
        print(answer)
    except (ValueError, json.JSONDecodeError):
        print("Не удалось декодировать сообщение сервера.")
        return 1
    return 0 if answer.startswith("200") else 1


if __name__ == "__main__":
    sys.exit(main())
