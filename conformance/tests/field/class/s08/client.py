"""Асинхронный клиент JIM (asyncio).

Строки из stdin: "/msg ИМЯ ТЕКСТ", "/join #комната", "/leave #комната", "/contacts",
"/quit"; остальное - сообщение последнему собеседнику. Отвечает на probe, понимает склеенные
ответы, в конце ввода отправляет quit и выходит с кодом 0.

Запуск: python3 client.py 127.0.0.1 7777 -n Alice
"""

import argparse
import asyncio
import json
import sys
import threading
import time


class Connection:
    def __init__(self, reader, writer):
        self.reader = reader
        self.writer = writer
        self.buffer = ''
        self.decoder = json.JSONDecoder()

    async def send(self, message):
        message.setdefault('time', time.time())
        self.writer.write(json.dumps(message).encode('utf-8') + b'\n')
        await self.writer.drain()

    async def receive(self):
        """Следующее JSON-значение или None, если сервер закрыл соединение."""
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    value, end = self.decoder.raw_decode(text)
                    self.buffer = text[end:]
                    return value
                except ValueError:
                    pass
            data = await self.reader.read(4096)
            if not data:
                return None
            self.buffer += data.decode('utf-8', errors='replace')


def presence(name):
    return {'action': 'presence', 'type': 'status',
            'user': {'account_name': name, 'status': 'online'}}


async def listen(conn, name):
    while True:
        message = await conn.receive()
        if message is None:
            print('сервер закрыл соединение')
            return
        if not isinstance(message, dict):
            continue
        if message.get('action') == 'probe':
            await conn.send(presence(name))
        elif message.get('action') == 'msg':
            print(f"[{message.get('to')}] {message.get('from')}: {message.get('message')}")
        elif 'response' in message:
            print(message['response'], message.get('alert', message.get('error', '')))


def stdin_lines(loop, queue):
    """Поток чтения stdin (input() блокирует, поэтому не в цикле событий)."""
    for line in sys.stdin:
        loop.call_soon_threadsafe(queue.put_nowait, line)
    loop.call_soon_threadsafe(queue.put_nowait, '')


async def read_stdin(conn, name):
    queue = asyncio.Queue()
    threading.Thread(target=stdin_lines, args=(asyncio.get_running_loop(), queue),
                     daemon=True).start()
    peer = None
    while True:
        line = await queue.get()
        if not line:
            break
        line = line.strip()
        if not line:
            continue
        if line == '/quit':
            break
        if line.startswith('/msg '):
            parts = line.split(' ', 2)
            peer = parts[1]
            await conn.send({'action': 'msg', 'to': peer, 'from': name,
                             'message': parts[2] if len(parts) > 2 else ''})
        elif line.startswith(('/join ', '/leave ')):
            command, room = line[1:].split(' ', 1)
            await conn.send({'action': command, 'room': room})
        elif line == '/contacts':
            await conn.send({'action': 'get_contacts'})
        elif peer:
            await conn.send({'action': 'msg', 'to': peer, 'from': name, 'message': line})
        else:
            print('кому? /msg ИМЯ ТЕКСТ')
    await conn.send({'action': 'quit'})


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('addr', nargs='?', default='127.0.0.1')
    parser.add_argument('port', nargs='?', type=int, default=7777)
    parser.add_argument('-n', '--name', default='Guest')
    args = parser.parse_args()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(args.addr, args.port), 10)
    except (OSError, asyncio.TimeoutError) as err:
        print(f'не удалось подключиться: {err}')
        return 1
    conn = Connection(reader, writer)
    await conn.send(presence(args.name))
    try:
        answer = await asyncio.wait_for(conn.receive(), 10)
    except asyncio.TimeoutError:
        print('сервер не ответил на presence')
        return 1
    if not isinstance(answer, dict) or answer.get('response') != 200:
        print(f'вход не удался: {answer}')
        return 1
    print(f'вход выполнен: {args.name}')
    listener = asyncio.create_task(listen(conn, args.name))
    typing = asyncio.create_task(read_stdin(conn, args.name))
    done, _ = await asyncio.wait({listener, typing}, return_when=asyncio.FIRST_COMPLETED)
    if typing in done:
        try:
            await asyncio.wait_for(listener, 0.3)
        except asyncio.TimeoutError:
            pass
    writer.close()
    return 0


if __name__ == '__main__':
    sys.exit(asyncio.run(main()))
