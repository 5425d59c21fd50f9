"""Lesson-3 server that floods: after the first request it sends {"response": 200} forever.

Models: issue 13, item 3 ("or sends an endless stream of {"response":200,...}"); PROTOCOL.md
§responses ("exactly one response per request"). Written like a lesson-3 exercise turned
persistent: a thread per client, the send moved into the `while True` by mistake (the recv is
outside it), argparse `-p -a`.

Dialect: course-looking (lesson 3). The client's first message is read (one recv(1024) +
json.loads); then the thread sends {"response": 200, "time": ..., "alert": "OK"} in a loop
without reading again, until the client goes away (BrokenPipe/ConnectionReset end the thread).
The writes block when the client stops reading, so it floods only a reader.

Expected verdicts (see manifest.json): lesson3 profile, exit 1: the unsolicited-value MUST case
fails (more values than one request can cause: "one request, one response"). lesson3/presence
itself got its 200 and may pass; the run must not say exit 0. Root cause: "several responses to
one request (an endless stream)".

Run: python3 flood_200.py -p PORT [-a ADDR]
"""

import argparse
import json
import socket
import threading
import time

MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def client_thread(client):
    try:
        data = client.recv(MAX_PACKAGE_LENGTH)
        message = json.loads(data.decode(ENCODING))
        print('Получено:', message)
        while True:
            response = {'response': 200, 'time': time.time(), 'alert': 'OK'}
            client.send(json.dumps(response).encode(ENCODING))
    except (OSError, ValueError) as err:
        print('Клиент отключился:', err)
    finally:
        client.close()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.a, args.p))
    server.listen(5)
    while True:
        client, address = server.accept()
        threading.Thread(target=client_thread, args=(client,), daemon=True).start()


if __name__ == '__main__':
    main()
