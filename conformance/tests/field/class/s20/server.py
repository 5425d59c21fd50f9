"""Урок 3. Серверная часть: принимает presence и отвечает кодом 200.

Запуск: python3 server.py -p 7777 -a 127.0.0.1
"""

import argparse
import json
import socket
import time

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
ALERT = 'alert'


def create_response(message):
    """Формирует ответ на сообщение клиента."""
    if message[ACTION] == PRESENCE and TIME in message:
        print(f'{time.ctime()}: на связи {message[USER][ACCOUNT_NAME]}')
        return {RESPONSE: 200, TIME: time.time(), ALERT: 'OK'}
    return {RESPONSE: 400, TIME: time.time(), ERROR: 'Bad Request'}


def main():
    parser = argparse.ArgumentParser(description='JIM сервер, урок 3')
    parser.add_argument('-p', '--port', type=int, default=7777)
    parser.add_argument('-a', '--addr', default='')
    args = parser.parse_args()

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.addr, args.port))
    s.listen(5)

    while True:
        client, addr = s.accept()
        data = client.recv(1024)
        message = json.loads(data.decode('utf-8'))
        response = create_response(message)
        client.send(json.dumps(response).encode('utf-8'))
        client.close()


if __name__ == '__main__':
    main()
