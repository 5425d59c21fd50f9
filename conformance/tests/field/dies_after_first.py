"""Course server whose process exits when the first logged-in client disconnects without exit.

Models: issue 13, item 4 ("one that dies after one client (process exits)"; a death blamed on
later cases, "[server DIED] after this case" repeated); jim-protocol.md §6 (servers that die when
a client leaves). Same structure as slow_select_one_recv.py (a course `Server` class, select(),
one recv(1024) + json.loads per message), with a 0.05 s accept timeout.

Dialect: course. The defect is in the "connection lost" path: when a logged-in client's socket
fails (an empty read after a close, a reset, garbage), lost_client() tells the user's contacts,
reading self.contacts[name]; a user who never added a contact has no entry, the KeyError is
raised inside the except clause of the main loop and the process exits with a traceback
(status 1). exit is handled by another path (remove_client) and connections that never logged
in have no name, so neither kills it: only a logged-in client that leaves without exit does.

Expected verdicts (see manifest.json): course profile, exit 1 (died), the death attributed once
to the destructive case that caused it (robustness/first-client-leaves or, if it runs first,
another destructive case in which a logged-in client leaves without exit), with the traceback
(KeyError) among the target's last output lines. Spawn mode: restarted before the next case
that needs it; every non-destructive case passes. Host mode: later cases "not run: target down".

Run: python3 dies_after_first.py -p PORT [-a ADDR]
"""

import argparse
import json
import logging
import select
import socket
import sys
from functools import wraps

# ---- common/variables.py ----
DEFAULT_PORT = 7777
MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'
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
GET_CONTACTS = 'get_contacts'
LIST_INFO = 'data_list'
REMOVE_CONTACT = 'remove'
ADD_CONTACT = 'add'
USERS_REQUEST = 'get_users'

RESPONSE_200 = {RESPONSE: 200}
RESPONSE_400 = {RESPONSE: 400, ERROR: None}
RESPONSE_202 = {RESPONSE: 202, LIST_INFO: None}

SERVER_LOGGER = logging.getLogger('server')
logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format='%(asctime)s %(levelname)s %(module)s %(message)s')


def log(func):
    """Декоратор: пишет в лог, какая функция вызвана."""
    @wraps(func)
    def decorated(*args, **kwargs):
        SERVER_LOGGER.debug(f'Вызвана {func.__name__}')
        return func(*args, **kwargs)
    return decorated


@log
def get_message(client):
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    json_response = encoded_response.decode(ENCODING)
    response = json.loads(json_response)
    if isinstance(response, dict):
        return response
    raise TypeError('Принят не словарь')


@log
def send_message(sock, message):
    sock.send(json.dumps(message).encode(ENCODING))


class Server:
    def __init__(self, listen_address, listen_port):
        self.addr = listen_address
        self.port = listen_port
        self.clients = []
        self.messages = []
        self.names = dict()
        self.users = []
        self.contacts = dict()

    def init_socket(self):
        transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.addr, self.port))
        transport.settimeout(0.05)
        self.sock = transport
        self.sock.listen(MAX_CONNECTIONS)
        SERVER_LOGGER.info(f'Сервер слушает {self.addr or "*"}:{self.port}')

    def remove_client(self, client):
        """Выход по exit: убираем клиента из списков."""
        for name in list(self.names):
            if self.names[name] == client:
                del self.names[name]
        if client in self.clients:
            self.clients.remove(client)
        client.close()

    def lost_client(self, client):
        """Связь с клиентом потеряна: убираем его и сообщаем его контактам."""
        for name in list(self.names):
            if self.names[name] == client:
                del self.names[name]
                for contact in self.contacts[name]:
                    if contact in self.names:
                        notice = dict(RESPONSE_400)
                        notice[ERROR] = f'Пользователь {name} потерял связь с сервером.'
                        self.messages.append({ACTION: MESSAGE, SENDER: name, DESTINATION: contact,
                                              MESSAGE_TEXT: notice[ERROR]})
        if client in self.clients:
            self.clients.remove(client)
        client.close()

    def main_loop(self):
        self.init_socket()
        while True:
            try:
                client, client_address = self.sock.accept()
            except OSError:
                pass
            else:
                SERVER_LOGGER.info(f'Установлено соедение с ПК {client_address}')
                client.settimeout(None)
                self.clients.append(client)

            recv_data_lst = []
            send_data_lst = []
            try:
                if self.clients:
                    recv_data_lst, send_data_lst, _ = select.select(self.clients, self.clients, [], 0)
            except OSError:
                pass

            for client_with_message in recv_data_lst:
                try:
                    self.process_client_message(get_message(client_with_message), client_with_message)
                except (OSError, ValueError, TypeError, KeyError, AttributeError):
                    SERVER_LOGGER.info(f'Клиент {client_with_message.getsockname()} отключился от сервера.')
                    self.lost_client(client_with_message)

            for message in self.messages:
                try:
                    self.process_message(message, send_data_lst)
                except OSError:
                    SERVER_LOGGER.info(f'Связь с клиентом {message[DESTINATION]} была потеряна')
                    self.remove_client(self.names[message[DESTINATION]])
            self.messages.clear()

    def process_message(self, message, listen_socks):
        if message[DESTINATION] in self.names and self.names[message[DESTINATION]] in listen_socks:
            send_message(self.names[message[DESTINATION]], message)
            SERVER_LOGGER.info(f'Отправлено сообщение пользователю {message[DESTINATION]} '
                               f'от пользователя {message[SENDER]}.')
        elif message[DESTINATION] in self.names:
            raise ConnectionError
        else:
            SERVER_LOGGER.error(f'Пользователь {message[DESTINATION]} не зарегистрирован на сервере, '
                                f'отправка сообщения невозможна.')

    @log
    def process_client_message(self, message, client):
        if ACTION in message and message[ACTION] == PRESENCE and TIME in message and USER in message:
            name = message[USER][ACCOUNT_NAME]
            if not isinstance(name, str) or not name:
                response = dict(RESPONSE_400)
                response[ERROR] = 'Некорректное имя пользователя.'
                send_message(client, response)
            elif name not in self.names.keys():
                self.names[name] = client
                if name not in self.users:
                    self.users.append(name)
                send_message(client, RESPONSE_200)
            else:
                response = dict(RESPONSE_400)
                response[ERROR] = 'Имя пользователя уже занято.'
                send_message(client, response)
                self.clients.remove(client)
                client.close()
        elif ACTION in message and message[ACTION] == MESSAGE and DESTINATION in message \
                and TIME in message and SENDER in message and MESSAGE_TEXT in message \
                and self.names.get(message[SENDER]) == client:
            self.messages.append(message)
        elif ACTION in message and message[ACTION] == EXIT and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            self.remove_client(client)
        elif ACTION in message and message[ACTION] == GET_CONTACTS and USER in message \
                and self.names.get(message[USER]) == client:
            response = dict(RESPONSE_202)
            response[LIST_INFO] = list(self.contacts.get(message[USER], []))
            send_message(client, response)
        elif ACTION in message and message[ACTION] == ADD_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            contacts = self.contacts.setdefault(message[USER], [])
            if message[ACCOUNT_NAME] in self.users and message[ACCOUNT_NAME] not in contacts:
                contacts.append(message[ACCOUNT_NAME])
            send_message(client, RESPONSE_200)
        elif ACTION in message and message[ACTION] == REMOVE_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            contacts = self.contacts.setdefault(message[USER], [])
            if message[ACCOUNT_NAME] in contacts:
                contacts.remove(message[ACCOUNT_NAME])
            send_message(client, RESPONSE_200)
        elif ACTION in message and message[ACTION] == USERS_REQUEST and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            response = dict(RESPONSE_202)
            response[LIST_INFO] = list(self.users)
            send_message(client, response)
        else:
            response = dict(RESPONSE_400)
            response[ERROR] = 'Запрос некорректен.'
            send_message(client, response)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', default=DEFAULT_PORT, type=int, nargs='?')
    parser.add_argument('-a', default='', nargs='?')
    namespace = parser.parse_args(sys.argv[1:])
    Server(namespace.a, namespace.p).main_loop()


if __name__ == '__main__':
    main()
