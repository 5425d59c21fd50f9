"""Клиент мессенджера по методичке JIM.

Команды: /msg ИМЯ ТЕКСТ, /join #КОМНАТА, /leave #КОМНАТА, /contacts, /quit;
строка без команды уходит последнему собеседнику.

Запуск: python3 client.py 127.0.0.1 7777 -n Alice
"""

import argparse
import json
import os
import socket
import sys
import threading
import time


class Reader:
    """Читает из сокета поток JSON-объектов (TCP может склеить или разрезать их)."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = ''
        self.decoder = json.JSONDecoder()

    def next(self):
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    value, end = self.decoder.raw_decode(text)
                    self.buffer = text[end:]
                    return value
                except ValueError:
                    pass
            data = self.sock.recv(4096)
            if not data:
                return None
            self.buffer += data.decode('utf-8', errors='replace')


def send(sock, message):
    message['time'] = time.time()
    sock.sendall(json.dumps(message).encode('utf-8') + b'\n')


def receiver(sock, reader, name, done):
    while True:
        try:
            msg = reader.next()
        except OSError:
            msg = None
        if msg is None:
            print('сервер закрыл соединение', flush=True)
            done.set()
            os._exit(0)
        if not isinstance(msg, dict):
            continue
        if msg.get('action') == 'probe':
            send(sock, {'action': 'presence', 'type': 'status',
                        'user': {'account_name': name, 'status': 'online'}})
        elif msg.get('action') == 'msg':
            print(f"[{msg.get('to')}] {msg.get('from')}: {msg.get('message')}")
        elif 'response' in msg:
            print(f"{msg['response']} {msg.get('alert', msg.get('error', ''))}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('addr', nargs='?', default='127.0.0.1')
    parser.add_argument('port', nargs='?', type=int, default=7777)
    parser.add_argument('-n', '--name', default='Guest')
    args = parser.parse_args()

    try:
        sock = socket.create_connection((args.addr, args.port), timeout=10)
    except OSError as err:
        print(f'не удалось подключиться: {err}')
        sys.exit(1)
    reader = Reader(sock)
    send(sock, {'action': 'presence', 'type': 'status',
                'user': {'account_name': args.name, 'status': 'online'}})
    try:
        first = reader.next()
    except OSError as err:
        print(f'нет ответа сервера: {err}')
        sys.exit(1)
    if not isinstance(first, dict) or first.get('response') != 200:
        print(f'вход не удался: {first}')
        sys.exit(1)
    print(f'вход выполнен: {args.name}')
    sock.settimeout(None)

    done = threading.Event()
    threading.Thread(target=receiver, args=(sock, reader, args.name, done), daemon=True).start()
    peer = None
    for line in sys.stdin:
        if done.is_set():
            break
        line = line.strip()
        if not line:
            continue
        try:
            if line == '/quit':
                break
            elif line.startswith('/msg '):
                _, peer, text = (line.split(' ', 2) + [''])[:3]
                send(sock, {'action': 'msg', 'to': peer, 'from': args.name, 'message': text})
            elif line.startswith('/join ') or line.startswith('/leave '):
                command, room = line[1:].split(' ', 1)
                send(sock, {'action': command, 'room': room})
            elif line == '/contacts':
                send(sock, {'action': 'get_contacts'})
            elif peer:
                send(sock, {'action': 'msg', 'to': peer, 'from': args.name, 'message': line})
            else:
                print('кому? /msg ИМЯ ТЕКСТ')
        except OSError:
            break
    try:
        send(sock, {'action': 'quit'})
    except OSError:
        pass
    sock.close()


if __name__ == '__main__':
    main()
