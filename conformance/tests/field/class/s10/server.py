"""Программа-сервер (урок 3): отвечает 200 гостю, 400 всем остальным.

python3 server.py -p 8888 -a 127.0.0.1
"""

import json
import socket
import sys

# common/variables.py
DEFAULT_PORT = 7777
MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'
ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
RESPONDEFAULT_IP_ADDRESSSE = 'respondefault_ip_addressse'
ANON_ACCOUNT_NAME = 'Guest'
MIN_PORT_NUMBER = 1024
MAX_PORT_NUMBER = 65535


class Server:
    def __init__(self):
        self.listen_port = DEFAULT_PORT
        self.listen_address = ''

    @staticmethod
    def get_message(client):
        encoded_response = client.recv(MAX_PACKAGE_LENGTH)
        if isinstance(encoded_response, bytes):
            response = json.loads(encoded_response.decode(ENCODING))
            if isinstance(response, dict):
                return response
        raise ValueError

    @staticmethod
    def send_message(sock, message):
        sock.send(json.dumps(message).encode(ENCODING))

    @staticmethod
    def process_client_message(message: dict) -> dict:
        if (ACTION in message and
                message[ACTION] == PRESENCE and
                TIME in message and
                USER in message and
                message[USER][ACCOUNT_NAME] == ANON_ACCOUNT_NAME):
            return {RESPONSE: 200}
        return {
            RESPONDEFAULT_IP_ADDRESSSE: 400,
            ERROR: 'Bad Request',
        }

    def main(self):
        argv = sys.argv
        if '-p' in argv:
            try:
                self.listen_port = int(argv[argv.index('-p') + 1])
                if self.listen_port < MIN_PORT_NUMBER or self.listen_port > MAX_PORT_NUMBER:
                    raise ValueError
            except (IndexError, ValueError):
                print(f'Порт - число от {MIN_PORT_NUMBER} до {MAX_PORT_NUMBER}.')
                sys.exit(1)
        if '-a' in argv:
            try:
                self.listen_address = argv[argv.index('-a') + 1]
            except IndexError:
                print('После параметра -a необходимо указать адрес.')
                sys.exit(1)

        transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.listen_address, self.listen_port))
        transport.listen(MAX_CONNECTIONS)

        while True:
            client, client_address = transport.accept()
            try:
                message_from_client = self.get_message(client)
                print(message_from_client)
                self.send_message(client, self.process_client_message(message_from_client))
            except (ValueError, json.JSONDecodeError):
                print('Принято некорректное сообщение от клиента.')
            client.close()


if __name__ == '__main__':
    Server().main()
