"""Lesson-3 server that speaks first: it sends a greeting on accept, reads nothing, and closes.

Models: jim-protocol.md §4 ("A few lesson-3 servers speak first and ignore input; classify that
as 'responds, but not to the request'") and §6 ("a few send on accept without reading (string
codes, string time) and close"); PROTOCOL.md §transport ("A server MUST NOT send anything before
the client's first message"); issue 13, item 3 (it passed --profile lesson3 with exit 0).
Written like a lesson-2/3 exercise: sys.argv parsed by hand, a blocking accept() loop.

Dialect: course-looking (lesson 3). On every accept it sends
{"response": "200", "time": "<ctime>", "alert": "Добро пожаловать!"} (the code and the time as
strings, as the student typed them) and closes at once, without ever calling recv().

Expected verdicts (see manifest.json): lesson3 profile, exit 1: lesson3/presence fails (what
arrived was sent before the presence: "responds, but not to the request"), and the
unsolicited-value MUST case (present in every profile) fails. Root cause: "the server speaks
first / sends before the client's first message".

Run: python3 speaks_first.py -p PORT [-a ADDR]
"""

import json
import socket
import sys
import time

DEFAULT_PORT = 7777
ENCODING = 'utf-8'


def main():
    listen_port = DEFAULT_PORT
    listen_address = ''
    if '-p' in sys.argv:
        listen_port = int(sys.argv[sys.argv.index('-p') + 1])
    if '-a' in sys.argv:
        listen_address = sys.argv[sys.argv.index('-a') + 1]

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((listen_address, listen_port))
    transport.listen(5)

    while True:
        client, client_address = transport.accept()
        # Сервер приветствует клиента
        greeting = {
            'response': '200',
            'time': time.ctime(),
            'alert': 'Добро пожаловать!',
        }
        try:
            client.send(json.dumps(greeting, ensure_ascii=False).encode(ENCODING))
        except OSError:
            pass
        client.close()


if __name__ == '__main__':
    main()
