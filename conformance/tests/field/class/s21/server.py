"""Сервер мессенджера по методичке JIM (select, без потоков).

Поддерживает: presence, msg (пользователю и в #комнату), join/leave,
get_contacts/add_contact/del_contact, quit.

Запуск: python3 server.py -p 7777 -a 127.0.0.1
"""

import argparse
import json
import logging
import select
import socket
import sys
import time

log = logging.getLogger('server')
logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format='%(asctime)s %(levelname)s %(message)s')

names = {}      # имя -> сокет
sockets = {}    # сокет -> имя
rooms = {}      # '#комната' -> set(сокетов)
contacts = {}   # имя -> list(имён)
known = set()


def answer(code, text=''):
    return {'response': code, 'time': time.time(), ('alert' if code < 400 else 'error'): text}


def send(sock, message):
    sock.send(json.dumps(message).encode('utf-8'))


def good_name(name):
    return isinstance(name, str) and 0 < len(name) <= 25 and not name.startswith('#')


def good_room(room):
    return isinstance(room, str) and room.startswith('#') and 1 < len(room) <= 25


def drop(sock, clients):
    name = sockets.pop(sock, None)
    if name is not None and names.get(name) is sock:
        del names[name]
    for members in rooms.values():
        members.discard(sock)
    if sock in clients:
        clients.remove(sock)
    sock.close()


def on_presence(sock, msg):
    user = msg.get('user')
    name = user.get('account_name') if isinstance(user, dict) else None
    if not good_name(name):
        return answer(400, 'нужен user.account_name (1-25 символов)')
    if sock in sockets and sockets[sock] != name:
        return answer(400, 'имя уже задано')
    if name in names and names[name] is not sock:
        return answer(409, 'пользователь уже в сети')
    names[name] = sock
    sockets[sock] = name
    known.add(name)
    return answer(200, 'OK')


def on_msg(sock, msg):
    to, text = msg.get('to'), msg.get('message')
    if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
        return answer(400, 'нужны to и message (до 500 символов)')
    relay = {'action': 'msg', 'time': time.time(), 'to': to, 'from': sockets[sock],
             'encoding': msg.get('encoding', 'ascii'), 'message': text}
    if to.startswith('#'):
        if not good_room(to):
            return answer(400, 'неверное имя комнаты')
        if to not in rooms:
            return answer(404, 'нет такой комнаты')
        if sock not in rooms[to]:
            return answer(403, 'вы не в этой комнате')
        for member in rooms[to]:
            if member is not sock:
                send(member, relay)
        return answer(200, 'доставлено')
    if to not in names:
        return answer(404, 'пользователь не в сети')
    send(names[to], relay)
    return answer(200, 'доставлено')


def on_room(sock, msg):
    room = msg.get('room')
    if not good_room(room):
        return answer(400, 'неверное имя комнаты')
    if msg['action'] == 'join':
        rooms.setdefault(room, set()).add(sock)
        return answer(200, 'OK')
    if sock not in rooms.get(room, set()):
        return answer(404, 'вы не в этой комнате')
    rooms[room].discard(sock)
    if not rooms[room]:
        del rooms[room]
    return answer(200, 'OK')


def on_contacts(sock, msg):
    mine = contacts.setdefault(sockets[sock], [])
    if msg['action'] == 'get_contacts':
        return {'response': 202, 'time': time.time(), 'alert': sorted(mine)}
    who = msg.get('user_id')
    if not good_name(who):
        return answer(400, 'нужен user_id')
    if msg['action'] == 'add_contact':
        if who not in known:
            return answer(404, 'нет такого пользователя')
        if who not in mine:
            mine.append(who)
        return answer(200, 'OK')
    if who not in mine:
        return answer(404, 'нет в контактах')
    mine.remove(who)
    return answer(200, 'OK')


HANDLERS = {'msg': on_msg, 'join': on_room, 'leave': on_room, 'get_contacts': on_contacts,
            'add_contact': on_contacts, 'del_contact': on_contacts}


def process(sock, msg, clients):
    if not isinstance(msg, dict):
        send(sock, answer(400, 'ожидается объект JSON'))
        return
    if 'response' in msg:
        return
    action = msg.get('action')
    if action == 'quit':
        drop(sock, clients)
    elif action == 'presence':
        send(sock, on_presence(sock, msg))
    elif action not in HANDLERS:
        send(sock, answer(400, 'неизвестное действие'))
    elif sock not in sockets:
        send(sock, answer(401, 'сначала presence'))
    else:
        send(sock, HANDLERS[action](sock, msg))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.a, args.p))
    server.listen(10)
    log.info('сервер запущен, порт %s', args.p)
    clients = []
    while True:
        readable, _, _ = select.select([server] + clients, [], [], 1)
        for sock in readable:
            if sock is server:
                client, addr = server.accept()
                log.info('подключение %s', addr)
                clients.append(client)
                continue
            try:
                data = sock.recv(1024)
            except OSError:
                data = b''
            if not data:
                drop(sock, clients)
                continue
            try:
                msg = json.loads(data.decode('utf-8'))
            except ValueError:
                try:
                    send(sock, answer(400, 'некорректный JSON'))
                except OSError:
                    drop(sock, clients)
                continue
            try:
                process(sock, msg, clients)
            except OSError:
                drop(sock, clients)


if __name__ == '__main__':
    main()
