"""Асинхронный сервер JIM (asyncio).

Читает поток JSON-объектов (склеенные и разрезанные сообщения - не проблема),
отвечает на каждый запрос одним ответом с "time", пишет "\n" после каждого объекта.
presence, msg (пользователю и в #комнату), join, leave, get_contacts, add_contact,
del_contact, quit.

Запуск: python3 server.py -p 7777 -a 127.0.0.1
"""

import argparse
import asyncio
import codecs
import json
import time

MAX_BUFFER = 64 * 1024


def reply(code, text=''):
    return {'response': code, 'time': time.time(), ('alert' if code < 400 else 'error'): text}


def good_name(name):
    return isinstance(name, str) and 0 < len(name) <= 25 and not name.startswith('#')


def good_room(room):
    return isinstance(room, str) and room.startswith('#') and 2 <= len(room) <= 25


class Session:
    def __init__(self, writer):
        self.writer = writer
        self.name = None
        self.rooms = set()

    def send(self, message):
        self.writer.write(json.dumps(message).encode('utf-8') + b'\n')


class Chat:
    def __init__(self):
        self.online = {}
        self.rooms = {}
        self.known = set()
        self.contacts = {}

    def leave_all(self, session):
        if session.name is not None and self.online.get(session.name) is session:
            del self.online[session.name]
        for room in session.rooms:
            members = self.rooms.get(room, set())
            members.discard(session)
            if not members:
                self.rooms.pop(room, None)
        session.rooms.clear()

    def handle(self, session, msg):
        """Возвращает False, если клиент уходит."""
        if not isinstance(msg, dict):
            session.send(reply(400, 'ожидается JSON-объект'))
            return True
        if 'response' in msg:
            return True
        action = msg.get('action')
        if action in ('quit', 'exit'):
            return False
        if action == 'presence':
            user = msg.get('user')
            name = user.get('account_name') if isinstance(user, dict) else None
            if not good_name(name):
                session.send(reply(400, 'нужен user.account_name (1-25 символов)'))
            elif session.name is not None and session.name != name:
                session.send(reply(400, 'имя уже задано'))
            elif self.online.get(name, session) is not session:
                session.send(reply(409, 'имя занято'))
            else:
                session.name = name
                self.online[name] = session
                self.known.add(name)
                session.send(reply(200, 'OK'))
            return True
        handler = getattr(self, 'on_' + action, None) if isinstance(action, str) and action in (
            'msg', 'join', 'leave', 'get_contacts', 'add_contact', 'del_contact') else None
        if handler is None:
            session.send(reply(400, 'неизвестное действие'))
        elif session.name is None:
            session.send(reply(401, 'сначала presence'))
        else:
            handler(session, msg)
        return True

    def on_msg(self, session, msg):
        to, text = msg.get('to'), msg.get('message')
        if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
            session.send(reply(400, 'нужны to и message (до 500 символов)'))
            return
        relay = {'action': 'msg', 'time': time.time(), 'to': to, 'from': session.name,
                 'encoding': msg.get('encoding', 'ascii'), 'message': text}
        if to.startswith('#'):
            if not good_room(to):
                session.send(reply(400, 'неверное имя комнаты'))
            elif to not in self.rooms:
                session.send(reply(404, 'нет такой комнаты'))
            elif session not in self.rooms[to]:
                session.send(reply(403, 'вы не в комнате'))
            else:
                for member in self.rooms[to]:
                    if member is not session:
                        member.send(relay)
                session.send(reply(200, 'доставлено'))
        elif to in self.online:
            self.online[to].send(relay)
            session.send(reply(200, 'доставлено'))
        else:
            session.send(reply(404, 'пользователь не в сети'))

    def on_join(self, session, msg):
        room = msg.get('room')
        if not good_room(room):
            session.send(reply(400, 'неверное имя комнаты'))
            return
        self.rooms.setdefault(room, set()).add(session)
        session.rooms.add(room)
        session.send(reply(200, 'OK'))

    def on_leave(self, session, msg):
        room = msg.get('room')
        if not good_room(room):
            session.send(reply(400, 'неверное имя комнаты'))
        elif room not in session.rooms:
            session.send(reply(404, 'вы не в комнате'))
        else:
            session.rooms.discard(room)
            self.rooms[room].discard(session)
            if not self.rooms[room]:
                del self.rooms[room]
            session.send(reply(200, 'OK'))

    def on_get_contacts(self, session, msg):
        session.send({'response': 202, 'time': time.time(),
                      'alert': sorted(self.contacts.get(session.name, set()))})

    def on_add_contact(self, session, msg):
        who = msg.get('user_id')
        if not good_name(who):
            session.send(reply(400, 'нужен user_id'))
        elif who not in self.known:
            session.send(reply(404, 'нет такого пользователя'))
        else:
            self.contacts.setdefault(session.name, set()).add(who)
            session.send(reply(200, 'OK'))

    def on_del_contact(self, session, msg):
        who = msg.get('user_id')
        mine = self.contacts.get(session.name, set())
        if not good_name(who):
            session.send(reply(400, 'нужен user_id'))
        elif who not in mine:
            session.send(reply(404, 'нет в контактах'))
        else:
            mine.discard(who)
            session.send(reply(200, 'OK'))


def split_values(buffer, decoder):
    """Вырезает из буфера все полные JSON-значения; возвращает (значения, остаток)."""
    values = []
    while True:
        text = buffer.lstrip(' \t\r\n')
        if not text:
            return values, ''
        try:
            value, end = decoder.raw_decode(text)
        except json.JSONDecodeError as err:
            if err.pos >= len(text) - 1 or 'Unterminated' in err.msg or text.count('{') > text.count('}'):
                return values, text          # ждём продолжения
            values.append(ValueError('некорректный JSON'))
            # пропускаем до следующей строки или объекта
            cut = min([i for i in (text.find('\n'), text.find('{', 1)) if i > 0] or [len(text)])
            buffer = text[cut:]
            continue
        values.append(value)
        buffer = text[end:]


async def serve(chat, reader, writer):
    session = Session(writer)
    decoder = json.JSONDecoder()
    text_decoder = codecs.getincrementaldecoder('utf-8')()   # символ может прийти по частям
    buffer = ''
    try:
        while True:
            data = await reader.read(4096)
            if not data:
                break
            try:
                buffer += text_decoder.decode(data)
            except UnicodeDecodeError:
                session.send(reply(400, 'некорректная кодировка (нужен UTF-8)'))
                text_decoder.reset()
                buffer = ''
                continue
            values, buffer = split_values(buffer, decoder)
            if len(buffer) > MAX_BUFFER:
                session.send(reply(400, 'слишком длинное сообщение'))
                break
            going = True
            for value in values:
                if isinstance(value, ValueError):
                    session.send(reply(400, str(value)))
                elif not chat.handle(session, value):
                    going = False
                    break
            await writer.drain()
            if not going:
                break
    except (ConnectionError, OSError):
        pass
    finally:
        chat.leave_all(session)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    chat = Chat()
    server = await asyncio.start_server(lambda r, w: serve(chat, r, w), args.a or None, args.p)
    async with server:
        await server.serve_forever()


if __name__ == '__main__':
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
