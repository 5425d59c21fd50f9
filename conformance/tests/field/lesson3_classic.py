"""The classic lesson-3 server: json.loads(conn.recv(1024)) right after accept(), no try/except.

Models: jim-protocol.md §6 ("The classic lesson-3 server (json.loads(conn.recv(1024)) straight
after accept(), no try/except) dies when a client connects and closes without sending" and
"Lesson-3 servers die on "user": {} (KeyError on account_name) more often than on a missing
user"); issue 13, items 5 and 9 (the lesson-3 profile never sent the killing input; the
--spawn readiness check's connect-and-close killed it before the first case). Written the way
the exercise is usually solved first: constants at the top, sys.argv parsed by hand, one
function that builds the answer.

Dialect: lesson 3 (course). Any name is welcome: a presence with action, time and user gets
{"response": 200} (no time, no text) and a log line greeting message["user"]["account_name"];
anything else gets {"response": 400, "error": "Bad Request"}; then the connection is closed.
No try/except anywhere, so the process exits with a traceback on:
  * an empty read (a client that connects and closes without sending: JSONDecodeError),
  * broken JSON, invalid UTF-8,
  * "user": {} (KeyError: 'account_name') and "user" that is not an object (TypeError).
A presence without "user" is answered 400 (the `USER in message` check), which is why the
lesson-3 profile's missing-user case never killed it.

Expected verdicts (see manifest.json): auto picks lesson3; lesson3/presence passes (leniently:
no time); the destructive lesson-3 cases for "user" = {} and "user" not an object fail with
"the server died", each named once; exit 1. Readiness never kills it: spawn mode and host mode
give the same verdict.

Run: python3 lesson3_classic.py -p PORT [-a ADDR]
"""

import json
import socket
import sys

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
DEFAULT_PORT = 7777
MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def process_client_message(message):
    """Проверяет сообщение клиента и формирует ответ."""
    if ACTION in message and message[ACTION] == PRESENCE and TIME in message and USER in message:
        print(f'Привет, {message[USER][ACCOUNT_NAME]}!')
        return {RESPONSE: 200}
    return {RESPONSE: 400, ERROR: 'Bad Request'}


def main():
    if '-p' in sys.argv:
        listen_port = int(sys.argv[sys.argv.index('-p') + 1])
    else:
        listen_port = DEFAULT_PORT
    if '-a' in sys.argv:
        listen_address = sys.argv[sys.argv.index('-a') + 1]
    else:
        listen_address = ''

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((listen_address, listen_port))
    transport.listen(MAX_CONNECTIONS)

    while True:
        client, client_address = transport.accept()
        message = json.loads(client.recv(MAX_PACKAGE_LENGTH).decode(ENCODING))
        print(message)
        response = process_client_message(message)
        client.send(json.dumps(response).encode(ENCODING))
        client.close()


if __name__ == '__main__':
    main()
