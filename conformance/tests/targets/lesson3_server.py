"""The widely copied lesson-3 one-shot server.

Models: jim-protocol.md §2b ("lesson-3 servers are one-shot") and PROTOCOL.md §lesson3, the
Guest-only convention: accept a connection, read once with recv(640), json.loads, answer
{"response": 200} if action is "presence", "time" is present and user.account_name is exactly
"Guest", otherwise {"response": 400, "error": "Bad Request"}; then close the connection and
wait for the next one. Malformed JSON gets no answer (the error is caught, the connection
closed). Messages are sent with json.dumps(...).encode(), no newline.

Dialect: course (lesson 3).

Expected verdicts:
  * lesson3 profile, whole delivery, name Guest: pass (pass-lenient: no "time" and no text in
    the 200, connection closed after the reply, both tolerated by §lesson3).
  * any other name: 400, explained by the "Guest-only server?" hint.
  * spec / course profiles: fail everything after the first reply (the server closes).
  * split delivery: the first recv() holds half a presence, so no answer (reported at info level
    by the lesson3 profile).

Run: python3 lesson3_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import socket

ACTION = "action"
TIME = "time"
USER = "user"
ACCOUNT_NAME = "account_name"
PRESENCE = "presence"
RESPONSE = "response"
ERROR = "error"
MAX_PACKAGE_LENGTH = 640
ENCODING = "utf-8"


def get_message(client):
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    if isinstance(encoded_response, bytes):
        json_response = encoded_response.decode(ENCODING)
        response = json.loads(json_response)
        if isinstance(response, dict):
            return response
        raise ValueError
    raise ValueError


def send_message(sock, message):
    sock.send(json.dumps(message).encode(ENCODING))


def process_client_message(message):
    if ACTION in message and message[ACTION] == PRESENCE and TIME in message \
            and USER in message and isinstance(message[USER], dict) \
            and message[USER].get(ACCOUNT_NAME) == "Guest":
        return {RESPONSE: 200}
    return {RESPONSE: 400, ERROR: "Bad Request"}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", default=7777, type=int)
    parser.add_argument("-a", default="127.0.0.1")
    args = parser.parse_args()

    family = socket.AF_INET6 if ":" in args.a else socket.AF_INET
    transport = socket.socket(family, socket.SOCK_STREAM)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((args.a, args.p))
    transport.listen(5)

    while True:
        client, client_address = transport.accept()
        client.settimeout(10)   # not in the original; keeps a silent client from blocking forever
        try:
            message_from_client = get_message(client)
            response = process_client_message(message_from_client)
            send_message(client, response)
        except (ValueError, UnicodeDecodeError):
            pass                # "Принято некорретное сообщение от клиента."
        except OSError:
            pass
        client.close()


if __name__ == "__main__":
    main()
