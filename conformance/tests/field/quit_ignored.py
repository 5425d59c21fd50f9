# -*- coding: utf-8 -*-
"""Spec server, a thread per client, that ignores quit: no close, and the name stays taken.

Models: issue 13, item 2 ("Tolerances rescue answers to valid requests"), found on held-out
student-style code: with the open-after-quit tolerance the runner used to close its own side
after the quit and only then log in again, so "the name is freed after quit" was tested as
"the name is freed after a close", and this server passed quit/frees-name (MUST). Written like a
methodology student server: module-level dicts under one `threading.Lock`, a thread per client,
one recv(4096) + json.loads per message, the action constants inlined, `sys.argv` parsed by hand
(`-p PORT -a ADDR`), Russian messages, `# -*- coding -*-` for Windows.

Dialect: spec. presence (409 for a connected name), msg to a user (404 when not connected) or to
a #room (403 when not a member, 404 for an unknown room), join/leave, get_contacts (202 + alert),
add_contact/del_contact, replies with "time". The defect: the quit branch only prints and keeps
reading (`return me, True` where `return me, False` was meant), so the connection stays open and
the name stays taken until the client closes; then the `finally` frees it.

Expected verdicts (see manifest.json): spec profile, exit 1: quit/frees-name fails (409 while the
quitting connection is still open); quit/closes and quit/bare pass only leniently
(open-after-quit: keeping the socket is a tolerated variant, keeping the session is not); every
other must case passes; the one-recv-per-message framing shoulds fail.

Run: python3 quit_ignored.py -p PORT [-a ADDR]
"""
import json
import sys
import time
import socket
import threading

ACTION = 'action'
PRESENCE = 'presence'
MSG = 'msg'
QUIT = 'quit'
JOIN = 'join'
LEAVE = 'leave'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'

clients = {}       # имя -> сокет
rooms = {}         # комната -> список имён
contacts = {}      # имя -> список контактов
seen = set()
lock = threading.Lock()


def resp(code, **extra):
    d = {'response': code, TIME: time.time()}
    d.update(extra)
    return d


def send_json(conn, obj):
    try:
        conn.sendall(json.dumps(obj).encode('utf-8'))
    except OSError:
        pass


def good_name(n):
    return type(n) is str and 1 <= len(n) <= 25 and n[0] != '#'


def good_room(r):
    return type(r) is str and r[:1] == '#' and 2 <= len(r) <= 25


def leave_all(name):
    for r in list(rooms):
        if name in rooms[r]:
            rooms[r].remove(name)
        if not rooms[r]:
            del rooms[r]


def process(conn, me, m):
    """Обрабатывает одно сообщение. Возвращает (новое имя, продолжать ли)."""
    if type(m) is not dict:
        send_json(conn, resp(400, error='Ожидался объект JSON'))
        return me, True
    if 'response' in m:
        return me, True
    act = m.get(ACTION)
    if act not in (PRESENCE, MSG, QUIT, JOIN, LEAVE, 'get_contacts', 'add_contact', 'del_contact'):
        send_json(conn, resp(400, error='Неизвестное действие'))
        return me, True
    if act == QUIT:
        print(f'{me} отправил quit')
        return me, True
    if act == PRESENCE:
        user = m.get(USER)
        name = user.get(ACCOUNT_NAME) if type(user) is dict else None
        if not good_name(name):
            send_json(conn, resp(400, error='Неверное имя пользователя'))
            return me, True
        if me is not None:
            if name == me:
                send_json(conn, resp(200))
            else:
                send_json(conn, resp(400, error='Имя уже выбрано'))
            return me, True
        with lock:
            if name in clients:
                send_json(conn, resp(409, error='Это имя уже используется'))
                return me, True
            clients[name] = conn
            seen.add(name)
        print(f'{name} в сети')
        send_json(conn, resp(200))
        return name, True
    if me is None:
        send_json(conn, resp(401, error='Не авторизован'))
        return me, True

    if act == MSG:
        to, text = m.get('to'), m.get('message')
        if type(to) is not str or type(text) is not str or len(text) > 500:
            send_json(conn, resp(400, error='Неверное сообщение'))
            return me, True
        out = {ACTION: MSG, TIME: time.time(), 'to': to, 'from': me, 'message': text}
        with lock:
            if to.startswith('#'):
                if not good_room(to):
                    send_json(conn, resp(400, error='Неверное имя комнаты'))
                elif to not in rooms:
                    send_json(conn, resp(404, error='Нет такой комнаты'))
                elif me not in rooms[to]:
                    send_json(conn, resp(403, error='Вы не состоите в комнате'))
                else:
                    for member in rooms[to]:
                        if member != me and member in clients:
                            send_json(clients[member], out)
                    send_json(conn, resp(200))
            elif to in clients:
                send_json(clients[to], out)
                send_json(conn, resp(200))
            else:
                send_json(conn, resp(404, error='Пользователь не найден'))
        return me, True

    if act in (JOIN, LEAVE):
        room = m.get('room')
        if not good_room(room):
            send_json(conn, resp(400, error='Имя комнаты должно начинаться с #'))
            return me, True
        with lock:
            if act == JOIN:
                if me not in rooms.setdefault(room, []):
                    rooms[room].append(me)
                send_json(conn, resp(200))
            elif me in rooms.get(room, []):
                rooms[room].remove(me)
                if not rooms[room]:
                    del rooms[room]
                send_json(conn, resp(200))
            else:
                send_json(conn, resp(404, error='Вы не в этой комнате'))
        return me, True

    with lock:
        mine = contacts.setdefault(me, [])
        if act == 'get_contacts':
            send_json(conn, resp(202, alert=sorted(mine)))
            return me, True
        who = m.get('user_id')
        if not good_name(who):
            send_json(conn, resp(400, error='Неверное поле user_id'))
        elif act == 'add_contact':
            if who not in seen:
                send_json(conn, resp(404, error='Нет такого пользователя'))
            else:
                if who not in mine:
                    mine.append(who)
                send_json(conn, resp(200))
        elif who in mine:
            mine.remove(who)
            send_json(conn, resp(200))
        else:
            send_json(conn, resp(404, error='Такого контакта нет'))
    return me, True


def client_thread(conn, addr):
    me = None
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                break
            try:
                m = json.loads(data.decode('utf-8'))
            except (json.JSONDecodeError, UnicodeDecodeError):
                send_json(conn, resp(400, error='Не удалось разобрать JSON'))
                continue
            me, go_on = process(conn, me, m)
            if not go_on:
                break
    except (ConnectionError, OSError) as e:
        print('Соединение с', addr, 'потеряно:', e)
    finally:
        if me is not None:
            with lock:
                if clients.get(me) is conn:
                    del clients[me]
                leave_all(me)
            print(f'{me} вышел')
        conn.close()


def main():
    port = 7777
    addr = ''
    if '-p' in sys.argv:
        port = int(sys.argv[sys.argv.index('-p') + 1])
    if '-a' in sys.argv:
        addr = sys.argv[sys.argv.index('-a') + 1]
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((addr, port))
    server.listen(100)
    print('Сервер работает, порт', port)
    while True:
        conn, addr = server.accept()
        t = threading.Thread(target=client_thread, args=(conn, addr))
        t.daemon = True
        t.start()


if __name__ == '__main__':
    main()
