# -*- coding: utf-8 -*-
"""Course server (lessons 5-7) whose one recv(1024) cuts any message longer than 1 KB.

Models: the held-out finding F4 (a coverage gap rather than an issue-13 item): course servers
read with `client.recv(MAX_PACKAGE_LENGTH)` + json.loads, and with MAX_PACKAGE_LENGTH = 1024 a
message over 1 KB is cut. Python clients write Cyrillic as \\uXXXX escapes (json.dumps default), so a
200-character Russian message is already about 1.1 KB on the wire and the longest valid one (500
characters) about 2.6 KB. No fixture sent such a message, and this server got the verdicts of
its correct twin (MAX_PACKAGE_LENGTH = 8192). Written like the course's select server: a
`Server` class, the listening socket with settimeout(0.5) as the loop's clock, then
select(clients, [], [], 0), get_message()/send_message(), process_client_message() over a dict
of names, 205 pushes, contacts in memory, argparse `-p -a`.

Dialect: course. presence (400 "Имя пользователя уже занято." for a taken name), message relayed
with an ack, exit, get_contacts/add/remove (202 data_list / 200), get_users. Replies are bare.
The defect: a message longer than 1024 bytes arrives over several recv() calls, each fails
json.loads and gets 400; the addressee gets nothing.

Expected verdicts (see manifest.json): course profile, exit 0 (should-level failures only):
robustness/long-message-course fails with the recv(1024) hint; every must case passes; the
one-recv-per-message framing shoulds fail.

Run: python3 course_recv1024.py -p PORT [-a ADDR]
"""
import argparse
import json
import select
import socket
import sys
import time

MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def get_message(client):
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    if not encoded_response:
        raise ConnectionResetError('пустое сообщение')
    response = json.loads(encoded_response.decode(ENCODING))
    if isinstance(response, dict):
        return response
    raise ValueError('ожидался словарь')


def send_message(sock, message):
    sock.send(json.dumps(message).encode(ENCODING))


def arg_parser():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', default=7777, type=int, nargs='?')
    parser.add_argument('-a', default='', nargs='?')
    namespace = parser.parse_args(sys.argv[1:])
    if not 1023 < namespace.p < 65536:
        print(f'Попытка запуска сервера с неподходящим номером порта: {namespace.p}.')
        sys.exit(1)
    return namespace.a, namespace.p


class Server:
    def __init__(self, listen_address, listen_port):
        self.addr = listen_address
        self.port = listen_port
        self.clients = []
        self.names = {}      # имя -> сокет
        self.contacts = {}   # имя -> список контактов
        self.known_users = set()

    def init_socket(self):
        transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.addr, self.port))
        transport.settimeout(0.5)
        transport.listen()
        self.sock = transport

    def name_of(self, client):
        for name, sock in self.names.items():
            if sock is client:
                return name
        return None

    def remove_client(self, client):
        name = self.name_of(client)
        if client in self.clients:
            self.clients.remove(client)
        if name:
            del self.names[name]
            print(f'Клиент {name} отключился от сервера.')
            self.service_update_lists()
        client.close()

    def service_update_lists(self):
        for client in list(self.names.values()):
            try:
                send_message(client, {'response': 205})
            except OSError:
                self.remove_client(client)

    def process_client_message(self, message, client):
        action = message.get('action')
        me = self.name_of(client)
        if 'response' in message and action is None:
            return
        if action == 'presence':
            user = message.get('user')
            name = user.get('account_name') if isinstance(user, dict) else None
            if not isinstance(name, str) or not name or len(name) > 25:
                send_message(client, {'response': 400, 'error': 'Запрос некорректен.'})
            elif me == name:
                send_message(client, {'response': 200})
            elif me is not None or name in self.names:
                send_message(client, {'response': 400, 'error': 'Имя пользователя уже занято.'})
            else:
                self.names[name] = client
                self.known_users.add(name)
                send_message(client, {'response': 200})
                for other, sock in list(self.names.items()):
                    if other != name:
                        try:
                            send_message(sock, {'response': 205})
                        except OSError:
                            self.remove_client(sock)
            return
        if action == 'exit':
            self.remove_client(client)
            return
        if action not in ('message', 'get_contacts', 'add', 'remove', 'get_users'):
            send_message(client, {'response': 400, 'error': 'Запрос некорректен.'})
            return
        if me is None:
            send_message(client, {'response': 401, 'error': 'Сначала представьтесь (presence).'})
            return
        if action == 'message':
            to = message.get('to')
            text = message.get('mess_text')
            if not isinstance(to, str) or not isinstance(text, str):
                send_message(client, {'response': 400, 'error': 'Запрос некорректен.'})
            elif to not in self.names:
                send_message(client, {'response': 400,
                                      'error': 'Пользователь не зарегистрирован на сервере, отправка сообщения невозможна.'})
            else:
                relay = {'action': 'message', 'time': time.time(), 'from': me, 'to': to, 'mess_text': text}
                try:
                    send_message(self.names[to], relay)
                except OSError:
                    self.remove_client(self.names[to])
                send_message(client, {'response': 200})
                print(f'Отправлено сообщение пользователю {to} от пользователя {me}.')
        elif action == 'get_contacts':
            send_message(client, {'response': 202, 'data_list': self.contacts.get(me, [])})
        elif action == 'get_users':
            send_message(client, {'response': 202, 'data_list': sorted(self.known_users)})
        else:
            contact = message.get('account_name')
            if not isinstance(contact, str) or not contact:
                send_message(client, {'response': 400, 'error': 'Запрос некорректен.'})
                return
            lst = self.contacts.setdefault(me, [])
            if action == 'add':
                if contact not in self.known_users:
                    send_message(client, {'response': 400, 'error': 'Нет такого пользователя.'})
                    return
                if contact not in lst:
                    lst.append(contact)
            elif contact in lst:
                lst.remove(contact)
            send_message(client, {'response': 200})

    def main_loop(self):
        self.init_socket()
        print(f'Запущен сервер, порт для подключений: {self.port}, адрес: {self.addr or "любой"}')
        while True:
            try:
                client, client_address = self.sock.accept()
            except OSError:
                pass
            else:
                print(f'Установлено соединение с ПК {client_address}')
                self.clients.append(client)
            recv_data_lst = []
            if self.clients:
                try:
                    recv_data_lst, _, _ = select.select(self.clients, [], [], 0)
                except OSError:
                    pass
            for client_with_message in recv_data_lst:
                if client_with_message not in self.clients:
                    continue
                try:
                    self.process_client_message(get_message(client_with_message), client_with_message)
                except (ValueError, UnicodeDecodeError):
                    try:
                        send_message(client_with_message, {'response': 400, 'error': 'Запрос некорректен.'})
                    except OSError:
                        self.remove_client(client_with_message)
                except OSError:
                    self.remove_client(client_with_message)


if __name__ == '__main__':
    listen_address, listen_port = arg_parser()
    Server(listen_address, listen_port).main_loop()
