"""Interactive course client that sends its presence a second time right after the reply.

Models: issue 13, item 7 ("a client that sends its presence a second time right after the reply
is not flagged"). Written like the course's interactive client (lessons 5-7): argparse
(ADDR PORT -n NAME), create_presence(), a receiver thread and a user-interface thread
(commands message / help / exit), `@log` decorator. The student had the interface thread
"announce the status" when it starts, so the presence goes out twice: once before the reply is
read (the login) and again as soon as the interface starts.

Dialect: course. Otherwise careful: replies are read from a buffer with
json.JSONDecoder.raw_decode (glued values are fine), a 400 to the login ends it with status 1,
stdin EOF sends {"action": "exit"} and exits 0, a server close ends it. Against the course
server the second presence is refused ("Имя пользователя уже занято.") and the connection is
closed: the user is thrown out the moment they log in.

Expected verdicts (see manifest.json): client-interactive (auto), exit 1: the repeated presence
is flagged by a MUST case (the presence sent again, unasked, after a 200), with a hint that says
so; the other client cases pass.

Run: python3 client_repeats_presence.py ADDR [PORT] [-n NAME]
"""

import argparse
import json
import logging
import socket
import sys
import threading
import time
from functools import wraps

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
SENDER = 'from'
DESTINATION = 'to'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
MESSAGE = 'message'
MESSAGE_TEXT = 'mess_text'
EXIT = 'exit'
ENCODING = 'utf-8'

CLIENT_LOGGER = logging.getLogger('client')
logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format='%(levelname)s %(message)s')


def log(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        CLIENT_LOGGER.debug(f'{func.__name__}{args}')
        return func(*args, **kwargs)
    return wrapper


class Connection:
    """Сокет и буфер принятых байтов (TCP может склеить сообщения)."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = ''
        self.decoder = json.JSONDecoder()
        self.lock = threading.Lock()

    @log
    def send_message(self, message):
        with self.lock:
            self.sock.sendall(json.dumps(message).encode(ENCODING))

    @log
    def get_message(self):
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    message, end = self.decoder.raw_decode(text)
                except ValueError:
                    pass
                else:
                    self.buffer = text[end:]
                    return message
            data = self.sock.recv(1024)
            if not data:
                raise ConnectionError('сервер закрыл соединение')
            self.buffer += data.decode(ENCODING)


@log
def create_presence(account_name):
    return {ACTION: PRESENCE, TIME: time.time(), USER: {ACCOUNT_NAME: account_name}}


def message_from_server(conn, username):
    """Принимает сообщения сервера и печатает их."""
    while True:
        try:
            message = conn.get_message()
        except (OSError, ValueError):
            print('\nПотеряно соединение с сервером.')
            return
        if isinstance(message, dict) and message.get(ACTION) == MESSAGE \
                and message.get(DESTINATION) == username:
            print(f'\nСообщение от {message.get(SENDER)}: {message.get(MESSAGE_TEXT)}')
        elif isinstance(message, dict) and isinstance(message.get(RESPONSE), int) \
                and message[RESPONSE] >= 400:
            print(f'\nОшибка сервера: {message.get(ERROR)}')
        else:
            print(f'\nОтвет сервера: {message}')


def print_help():
    print('Поддерживаемые команды:')
    print('message - отправить сообщение. Кому и текст будет запрошены отдельно.')
    print('help - вывести подсказки по командам')
    print('exit - выход из программы')


def user_interactive(conn, username):
    # Сообщаем серверу, что мы в сети
    conn.send_message(create_presence(username))
    print_help()
    while True:
        try:
            command = input('Введите команду: ')
        except EOFError:
            command = 'exit'
        if command == 'message':
            try:
                to_user = input('Введите получателя сообщения: ')
                text = input('Введите сообщение для отправки: ')
            except EOFError:
                continue
            conn.send_message({ACTION: MESSAGE, SENDER: username, DESTINATION: to_user,
                               TIME: time.time(), MESSAGE_TEXT: text})
        elif command == 'help':
            print_help()
        elif command == 'exit':
            try:
                conn.send_message({ACTION: EXIT, TIME: time.time(), ACCOUNT_NAME: username})
            except OSError:
                pass
            print('Завершение соединения.')
            time.sleep(0.5)
            return
        else:
            print('Команда не распознана, попробойте снова. help - вывести поддерживаемые команды.')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('addr', default='127.0.0.1', nargs='?')
    parser.add_argument('port', default=7777, type=int, nargs='?')
    parser.add_argument('-n', '--name', default=None, nargs='?')
    args = parser.parse_args()
    client_name = args.name or 'Guest'

    try:
        sock = socket.create_connection((args.addr, args.port), timeout=10)
        sock.settimeout(None)
        conn = Connection(sock)
        conn.send_message(create_presence(client_name))
        answer = conn.get_message()
    except (OSError, ValueError) as err:
        print(f'Не удалось подключиться к серверу {args.addr}:{args.port}: {err}')
        sys.exit(1)
    if not isinstance(answer, dict) or answer.get(RESPONSE) != 200:
        print(f'Сервер отказал: {answer}')
        sys.exit(1)
    print(f'Установлено соединение с сервером. Пользователь: {client_name}')

    receiver = threading.Thread(target=message_from_server, args=(conn, client_name), daemon=True)
    receiver.start()
    user_interface = threading.Thread(target=user_interactive, args=(conn, client_name), daemon=True)
    user_interface.start()

    while True:
        time.sleep(0.2)
        if receiver.is_alive() and user_interface.is_alive():
            continue
        break
    sock.close()


if __name__ == '__main__':
    main()
