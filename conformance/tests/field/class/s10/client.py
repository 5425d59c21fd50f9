"""Программа-клиент (урок 3).

python3 client.py 127.0.0.1 8888
"""

import json
import socket
import sys
import time

DEFAULT_IP_ADDRESS = '127.0.0.1'
DEFAULT_PORT = 7777
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def create_presence(account_name='Guest'):
    return {
        'action': 'presence',
        'time': time.time(),
        'type': 'status',
        'user': {
            'account_name': account_name,
            'status': 'Yep, I am here!',
        },
    }


def process_ans(message):
    if 'response' in message:
        if message['response'] == 200:
            return '200 : OK'
        return f'400 : {message["error"]}'
    raise ValueError


def main():
    try:
        server_address = sys.argv[1]
        server_port = int(sys.argv[2])
        if server_port < 1024 or server_port > 65535:
            raise ValueError
    except IndexError:
        server_address = DEFAULT_IP_ADDRESS
        server_port = DEFAULT_PORT
    except ValueError:
        print('В качестве порта может быть указано только число в диапазоне от 1024 до 65535.')
        sys.exit(1)

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.connect((server_address, server_port))
    transport.send(json.dumps(create_presence()).encode(ENCODING))
    try:
        answer = process_ans(json.loads(transport.recv(MAX_PACKAGE_LENGTH).decode(ENCODING)))
        print(answer)
    except (ValueError, json.JSONDecodeError):
        print('Не удалось декодировать сообщение сервера.')
        sys.exit(1)
    if not answer.startswith('200'):
        sys.exit(1)


if __name__ == '__main__':
    main()
