"""Spec server that answers 200 to any JSON object, whatever its action (no rooms, no 404).

Models: jim-protocol.md §6 ("some answer 200 to any JSON object whatever its action (no rooms,
no 404)"); issue 13, items 2 and 6 (a bare 200 credited rooms=present and passed rooms/join and
rooms/leave; a 200 where 400 was due got the "KeyError killed your server" hint). Written with
`socketserver.ThreadingTCPServer` and a `BaseRequestHandler` whose handle() loops over
recv(1024) + json.loads, shared tables as class attributes under a lock, argparse `-p -a`.

Dialect: spec. What it does: a presence stores user.account_name when there is one (a second
connection with the same name replaces the first); a msg is relayed to the named user when that
user is connected; quit closes. Then, whatever happened, the answer is
{"response": 200, "time": ..., "alert": "OK"}: to a presence without a name, to a msg for nobody
or for a #room, to join/leave/get_contacts, to unknown actions and to requests before presence.
Only a value that is not a JSON object gets 400.

Expected verdicts (see manifest.json): spec profile, exit 1. Must fail: errors/unknown-action,
errors/msg-before-presence, msg/unknown-user, presence/duplicate-name,
presence/missing-account-name (200 where 400 was due: the hint must say "answered 200", not
"died"). Rooms and contacts are not credited by a bare 200: rooms/*, contacts/* must not pass
(unimplemented, or failed). msg/direct passes. Root cause: "answers 200 to everything".

Run: python3 answer_everything_200.py -p PORT [-a ADDR]
"""

import argparse
import json
import socket
import socketserver
import sys
import threading
import time

# Константы протокола
ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
SENDER = 'from'
DESTINATION = 'to'
RESPONSE = 'response'
ALERT = 'alert'
ERROR = 'error'
MESSAGE = 'message'
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def send_message(sock, message):
    sock.sendall(json.dumps(message).encode(ENCODING))


class ChatHandler(socketserver.BaseRequestHandler):
    """Один объект на подключение; общие данные - в атрибутах класса."""
    users = {}                 # имя -> сокет
    lock = threading.Lock()

    def handle(self):
        print(f'Подключился {self.client_address}', file=sys.stderr)
        self.name = None
        while True:
            try:
                data = self.request.recv(MAX_PACKAGE_LENGTH)
            except OSError:
                break
            if not data:
                break
            try:
                message = json.loads(data.decode(ENCODING))
            except ValueError:
                send_message(self.request, {RESPONSE: 400, TIME: time.time(), ERROR: 'Bad JSON'})
                continue
            if not isinstance(message, dict):
                send_message(self.request, {RESPONSE: 400, TIME: time.time(), ERROR: 'Bad JSON'})
                continue
            if message.get(ACTION) == 'quit':
                break
            self.process(message)
            # На всё, что пришло, отвечаем "OK"
            send_message(self.request, {RESPONSE: 200, TIME: time.time(), ALERT: 'OK'})
        with self.lock:
            if self.name and self.users.get(self.name) is self.request:
                del self.users[self.name]
        print(f'Отключился {self.client_address}', file=sys.stderr)

    def process(self, message):
        action = message.get(ACTION)
        if action == 'presence':
            user = message.get(USER)
            if isinstance(user, dict) and isinstance(user.get(ACCOUNT_NAME), str):
                self.name = user[ACCOUNT_NAME]
                with self.lock:
                    self.users[self.name] = self.request
        elif action == 'msg':
            with self.lock:
                target = self.users.get(message.get(DESTINATION))
            if target is not None:
                relay = dict(message)
                relay[SENDER] = self.name
                try:
                    send_message(target, relay)
                except OSError:
                    pass


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    parser = argparse.ArgumentParser(description='Сервер мессенджера')
    parser.add_argument('-p', '--port', type=int, default=7777)
    parser.add_argument('-a', '--addr', default='')
    args = parser.parse_args()
    if ':' in args.addr:
        Server.address_family = socket.AF_INET6
    with Server((args.addr, args.port), ChatHandler) as server:
        print(f'Сервер слушает порт {args.port}', file=sys.stderr)
        server.serve_forever()


if __name__ == '__main__':
    main()
