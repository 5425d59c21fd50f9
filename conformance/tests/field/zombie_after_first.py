"""Thread-per-client spec server that stops answering anyone after the first client leaves.

Models: issue 13, item 4 ("a zombie (accepts, never answers, listen queue filling) is reported
as DIED ... a run against a zombie takes ~2 minutes of timeouts"); jim-protocol.md §6 (after
the first client disconnects, connections are accepted and never answered). Written like a
thread-per-client course server: the main thread accepts and starts a `ClientThread`, shared
tables guarded by one `threading.Lock()` taken with acquire()/release() (no `with`), argparse.

Dialect: spec, otherwise correct for whole delivery: presence (409), msg to users and #rooms,
join/leave, get_contacts/add_contact/del_contact, quit, 400 for unknown actions and bad JSON.

The defect: the login phase (until a successful presence) is careful (try/except around recv
and json.loads: a connect-and-close or garbage before presence only closes that socket). The
chat phase takes the lock, then parses: `self.lock.acquire(); message = json.loads(data)`. When
a logged-in client disconnects without quit, recv() returns b"", json.loads raises inside the
locked region, the thread dies with a traceback and the lock is never released. From then on
the accept loop blocks in acquire() after the next accept(), every other client thread blocks
on its next request, the kernel's listen queue fills (backlog 5) and nobody gets an answer: the
process is alive, the port accepts, nothing answers (a zombie, not a death).

Expected verdicts (see manifest.json): spec profile, exit 1, one root cause: "zombie after the
first client left" attributed to robustness/first-client-leaves (or whichever destructive case
first lets a logged-in client leave without quit), named ZOMBIE (not DIED) in host and spawn
mode; the run stops early in host mode instead of timing out case after case; spawn mode
restarts it and the remaining cases pass.

Run: python3 zombie_after_first.py -p PORT [-a ADDR]
"""

import argparse
import json
import socket
import sys
import threading
import time

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
RESPONSE = 'response'
ALERT = 'alert'
ERROR = 'error'
ROOM = 'room'
USER_ID = 'user_id'
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def reply(code, text=''):
    return {RESPONSE: code, TIME: time.time(), (ALERT if code < 400 else ERROR): text}


def send(sock, message):
    try:
        sock.sendall(json.dumps(message).encode(ENCODING))
    except OSError:
        pass


def valid_room(room):
    return isinstance(room, str) and room.startswith('#') and 1 < len(room) <= 25


class Chat:
    """Общие данные сервера."""

    def __init__(self):
        self.lock = threading.Lock()
        self.online = {}      # имя -> сокет
        self.rooms = {}       # '#комната' -> множество имён
        self.contacts = {}    # имя -> множество имён
        self.known = set()


class ClientThread(threading.Thread):
    def __init__(self, chat, sock, address):
        super().__init__(daemon=True)
        self.chat = chat
        self.sock = sock
        self.address = address
        self.account = None

    def run(self):
        # Вход: аккуратно, как на уроке 3
        while self.account is None:
            try:
                data = self.sock.recv(MAX_PACKAGE_LENGTH)
                if not data:
                    raise ConnectionError('клиент закрыл соединение')
                message = json.loads(data.decode(ENCODING))
            except ValueError:
                send(self.sock, reply(400, 'Некорректный JSON'))
                continue
            except OSError:
                self.sock.close()
                return
            self.chat.lock.acquire()
            keep = self.handle(message)
            self.chat.lock.release()
            if not keep:
                self.sock.close()
                return
        # Чат
        while True:
            data = self.sock.recv(MAX_PACKAGE_LENGTH)
            self.chat.lock.acquire()
            message = json.loads(data.decode(ENCODING))
            keep = self.handle(message)
            self.chat.lock.release()
            if not keep:
                self.logout()
                self.sock.close()
                return

    def logout(self):
        self.chat.lock.acquire()
        if self.chat.online.get(self.account) is self.sock:
            del self.chat.online[self.account]
        for members in self.chat.rooms.values():
            members.discard(self.account)
        self.chat.lock.release()

    def handle(self, message):
        """Обрабатывает одно сообщение; False - клиент уходит."""
        chat = self.chat
        if not isinstance(message, dict):
            send(self.sock, reply(400, 'Ожидается JSON-объект'))
            return True
        if RESPONSE in message:
            return True
        action = message.get(ACTION)
        if action == 'quit':
            return False
        if action == 'presence':
            user = message.get(USER)
            name = user.get(ACCOUNT_NAME) if isinstance(user, dict) else None
            if not isinstance(name, str) or not 0 < len(name) <= 25 or name.startswith('#'):
                send(self.sock, reply(400, 'Нужен user.account_name'))
            elif self.account is not None and self.account != name:
                send(self.sock, reply(400, 'Имя уже задано'))
            elif name in chat.online and chat.online[name] is not self.sock:
                send(self.sock, reply(409, 'Имя занято'))
            else:
                self.account = name
                chat.online[name] = self.sock
                chat.known.add(name)
                send(self.sock, reply(200, 'OK'))
            return True
        if action not in ('msg', 'join', 'leave', 'get_contacts', 'add_contact', 'del_contact'):
            send(self.sock, reply(400, f'Неизвестное действие {str(action)[:15]}'))
            return True
        if self.account is None:
            send(self.sock, reply(401, 'Сначала presence'))
            return True
        if action == 'msg':
            to, text = message.get('to'), message.get('message')
            if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
                send(self.sock, reply(400, 'Нужны to и message'))
                return True
            relay = {ACTION: 'msg', TIME: time.time(), 'to': to, 'from': self.account, 'message': text}
            if to.startswith('#'):
                if not valid_room(to):
                    send(self.sock, reply(400, 'Некорректная комната'))
                elif to not in chat.rooms:
                    send(self.sock, reply(404, 'Нет такой комнаты'))
                elif self.account not in chat.rooms[to]:
                    send(self.sock, reply(403, 'Вы не в комнате'))
                else:
                    for member in chat.rooms[to]:
                        if member != self.account and member in chat.online:
                            send(chat.online[member], relay)
                    send(self.sock, reply(200, 'OK'))
            elif to in chat.online:
                send(chat.online[to], relay)
                send(self.sock, reply(200, 'OK'))
            else:
                send(self.sock, reply(404, 'Пользователь не в сети'))
        elif action in ('join', 'leave'):
            room = message.get(ROOM)
            if not valid_room(room):
                send(self.sock, reply(400, 'Некорректная комната'))
            elif action == 'join':
                chat.rooms.setdefault(room, set()).add(self.account)
                send(self.sock, reply(200, 'OK'))
            elif self.account not in chat.rooms.get(room, set()):
                send(self.sock, reply(404, 'Вы не в комнате'))
            else:
                chat.rooms[room].discard(self.account)
                if not chat.rooms[room]:
                    del chat.rooms[room]
                send(self.sock, reply(200, 'OK'))
        elif action == 'get_contacts':
            send(self.sock, {RESPONSE: 202, TIME: time.time(),
                             ALERT: sorted(chat.contacts.get(self.account, set()))})
        else:
            contact = message.get(USER_ID)
            mine = chat.contacts.setdefault(self.account, set())
            if not isinstance(contact, str) or not contact:
                send(self.sock, reply(400, 'Нужен user_id'))
            elif action == 'add_contact' and contact not in chat.known:
                send(self.sock, reply(404, 'Нет такого пользователя'))
            elif action == 'del_contact' and contact not in mine:
                send(self.sock, reply(404, 'Нет в контактах'))
            else:
                (mine.add if action == 'add_contact' else mine.discard)(contact)
                send(self.sock, reply(200, 'OK'))
        return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    listener = socket.socket(socket.AF_INET6 if ':' in args.a else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.a, args.p))
    listener.listen(5)
    print(f'Сервер запущен на порту {args.p}', file=sys.stderr)
    chat = Chat()
    threads = []
    while True:
        sock, address = listener.accept()
        chat.lock.acquire()
        thread = ClientThread(chat, sock, address)
        threads.append(thread)
        chat.lock.release()
        thread.start()


if __name__ == '__main__':
    main()
