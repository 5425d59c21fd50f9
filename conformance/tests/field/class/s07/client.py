"""Урок 3. Клиентская часть: отправляет presence и печатает ответ сервера.

Запуск: python3 client.py 127.0.0.1 7777
"""

import json
import socket
import sys
import time


def create_presence(account_name='Guest'):
    return {
        'action': 'presence',
        'time': time.time(),
        'user': {
            'account_name': account_name,
        },
    }


def main():
    try:
        addr = sys.argv[1]
        port = int(sys.argv[2])
    except (IndexError, ValueError):
        addr, port = '127.0.0.1', 7777

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((addr, port))
    s.send(json.dumps(create_presence()).encode('utf-8'))
    data = s.recv(1024)
    s.close()
    answer = json.loads(data.decode('utf-8'))
    if answer['response'] == 200:
        print('200 : OK')
    else:
        print(f"{answer['response']} : {answer.get('error')}")
        sys.exit(1)


if __name__ == '__main__':
    main()
