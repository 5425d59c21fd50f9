"""Lesson-3 course client that cannot read a glued reply, says so, and exits 0 anyway.

Models: issue 13, item 7 ("client/lesson3/concatenated-reply passes a client that printed
'could not read the server's message' and exited 0 (only the exit status was checked)");
jim-protocol.md §1 (one recv + json.loads per message). Written like the course's lesson-3
client: sys.argv parsed by hand (ADDR PORT, then -n NAME), create_presence(),
process_ans(), one recv(1024) + json.loads, the "except (ValueError, json.JSONDecodeError)"
of the course that prints a message and ends normally.

Dialect: course (lesson 3). Sends {"action": "presence", "time": ..., "user": {"account_name":
NAME}} (NAME from -n, default Guest), reads once: a clean {"response": 200} prints
"200 : OK" and exits 0, a 400 prints "400 : ..." and exits 1. When the reply is glued to
another value in the same read ({...}\\n{...}), json.loads fails and the client prints
"Не удалось прочитать сообщение сервера." (could not read the server's message) and still
exits with status 0: the user never learns whether the login worked.

Expected verdicts (see manifest.json): client-lesson3 (auto), client/lesson3/concatenated-reply
fails (judged by what the client shows: it did not report the 200, it reported a read failure),
client/lesson3/accepted passes; exit 0 (the case is a should) with the failure listed.

Run: python3 client_glue_reads_badly.py ADDR [PORT] [-n NAME]
"""

import json
import socket
import sys
import time

DEFAULT_PORT = 7777
DEFAULT_IP_ADDRESS = '127.0.0.1'
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'
ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'


def create_presence(account_name='Guest'):
    """Функция генерирует запрос о присутствии клиента."""
    return {ACTION: PRESENCE, TIME: time.time(), USER: {ACCOUNT_NAME: account_name}}


def process_ans(message):
    """Разбирает ответ сервера."""
    if RESPONSE in message:
        if message[RESPONSE] == 200:
            return '200 : OK'
        return f'400 : {message.get(ERROR)}'
    raise ValueError


def main():
    try:
        server_address = sys.argv[1]
        server_port = int(sys.argv[2]) if len(sys.argv) > 2 and not sys.argv[2].startswith('-') \
            else DEFAULT_PORT
        if server_port < 1024 or server_port > 65535:
            raise ValueError
    except IndexError:
        server_address = DEFAULT_IP_ADDRESS
        server_port = DEFAULT_PORT
    except ValueError:
        print('В качестве порта может быть указано только число в диапазоне от 1024 до 65535.')
        sys.exit(1)
    account_name = sys.argv[sys.argv.index('-n') + 1] if '-n' in sys.argv else 'Guest'

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.connect((server_address, server_port))
    transport.send(json.dumps(create_presence(account_name)).encode(ENCODING))
    try:
        answer = process_ans(json.loads(transport.recv(MAX_PACKAGE_LENGTH).decode(ENCODING)))
        print(answer)
    except (ValueError, json.JSONDecodeError):
        print('Не удалось прочитать сообщение сервера.')
        transport.close()
        return
    transport.close()
    if not answer.startswith('200'):
        sys.exit(1)


if __name__ == '__main__':
    main()
