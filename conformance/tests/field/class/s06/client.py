"""Клиентское приложение мессенджера (итоговый проект курса).

Вход по паролю: сервер присылает 511 со случайной строкой, клиент отвечает HMAC от неё.
Консольный режим: команды message, contacts, add, del, users, help, exit.

Запуск: python3 client.py 127.0.0.1 7777 -n alice -p secret
"""

import argparse
import binascii
import hashlib
import hmac
import json
import socket
import sys
import threading
import time

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
SENDER = 'from'
DESTINATION = 'to'
DATA = 'bin'
PUBLIC_KEY = 'pubkey'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
MESSAGE = 'message'
MESSAGE_TEXT = 'mess_text'
EXIT = 'exit'
GET_CONTACTS = 'get_contacts'
LIST_INFO = 'data_list'
ADD_CONTACT = 'add'
REMOVE_CONTACT = 'remove'
USERS_REQUEST = 'get_users'
ENCODING = 'utf-8'

# Ключ генерировался через pycryptodome (RSA 2048); здесь - сохранённый открытый ключ
PUBKEY = '''-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA2BSPnkyrUzL7DDfcaEh8
pEvdFxjFIbJXDxVMJalSyDxvwUR+aCW+HXH9cQM8wMQ58e7T/XqPK8thOLgvxddE
C8iZYW/r68oxmgv81Ry17R9Oi0z0+KuFFWVH/cso+iXDNvsL1KujtCoH9NNVefWL
4DuG0U+kjcDRerdcZIYpz9v2citKendccjUgps+Cn4fVrb80/ftJ2ZCqxHZs01cH
7JuAzqj/IuXPGwtaZw9anRhIbcoJM/9AY8TsgpKjLPSD7PV5zGjHTrSW+gZ5JGoo
KNHXnzCMnZoI1AdEkJFA5fVo5WOEoTM5np9Q7/rq0NHY12PSoAV3+RwgozWF4SXH
7wIDAQAB
-----END PUBLIC KEY-----'''


class ServerError(Exception):
    def __init__(self, text):
        super().__init__(text)
        self.text = text


class ClientTransport:
    """Соединение с сервером: отправка, приём (с буфером), вход."""

    def __init__(self, ip_address, port, username, passwd):
        self.username = username
        self.password = passwd
        self.sock = socket.create_connection((ip_address, port), timeout=10)
        self.buffer = ''
        self.decoder = json.JSONDecoder()
        self.send_lock = threading.Lock()

    def send_message(self, message):
        with self.send_lock:
            self.sock.sendall(json.dumps(message).encode(ENCODING))

    def get_message(self):
        while True:
            text = self.buffer.lstrip()
            if text:
                try:
                    message, end = self.decoder.raw_decode(text)
                    self.buffer = text[end:]
                    return message
                except ValueError:
                    pass
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError('сервер закрыл соединение')
            self.buffer += data.decode(ENCODING)

    def connection_init(self):
        passwd_hash = hashlib.pbkdf2_hmac('sha512', self.password.encode('utf-8'),
                                          self.username.lower().encode('utf-8'), 10000)
        passwd_hash_string = binascii.hexlify(passwd_hash)
        self.send_message({ACTION: PRESENCE, TIME: time.time(),
                           USER: {ACCOUNT_NAME: self.username, PUBLIC_KEY: PUBKEY}})
        while True:
            ans = self.get_message()
            if not isinstance(ans, dict) or RESPONSE not in ans:
                continue
            if ans[RESPONSE] == 400:
                raise ServerError(ans.get(ERROR))
            if ans[RESPONSE] == 511:
                digest = hmac.new(passwd_hash_string, ans[DATA].encode('utf-8'), 'MD5').digest()
                self.send_message({RESPONSE: 511, DATA: binascii.b2a_base64(digest).decode('ascii')})
                continue
            if ans[RESPONSE] == 200:
                return
            if ans[RESPONSE] == 205:
                continue
            raise ServerError(f'неожиданный ответ {ans}')


def receiver(transport, done):
    while True:
        try:
            message = transport.get_message()
        except (OSError, ValueError):
            print('\nПотеряно соединение с сервером.', flush=True)
            done.set()
            return
        if not isinstance(message, dict):
            continue
        if message.get(ACTION) == MESSAGE and message.get(DESTINATION) == transport.username:
            print(f'\nСообщение от {message.get(SENDER)}: {message.get(MESSAGE_TEXT)}')
        elif message.get(RESPONSE) == 202:
            print(f'\nСписок: {", ".join(map(str, message.get(LIST_INFO) or []))}')
        elif message.get(RESPONSE) == 205:
            pass
        elif message.get(RESPONSE) == 200:
            print('\nOK')
        elif isinstance(message.get(RESPONSE), int) and message[RESPONSE] >= 400:
            print(f'\nОшибка: {message.get(ERROR)}')


def print_help():
    print('message - отправить сообщение, contacts - контакты, add/del - изменить контакты,')
    print('users - известные пользователи, help - справка, exit - выход')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('addr', default='127.0.0.1', nargs='?')
    parser.add_argument('port', default=7777, type=int, nargs='?')
    parser.add_argument('-n', '--name', default='alice')
    parser.add_argument('-p', '--password', default='')
    args = parser.parse_args()

    try:
        transport = ClientTransport(args.addr, args.port, args.name, args.password)
        transport.connection_init()
    except ServerError as error:
        print(f'При входе сервер вернул ошибку: {error.text}')
        sys.exit(1)
    except (OSError, ValueError) as error:
        print(f'Не удалось подключиться к серверу: {error}')
        sys.exit(1)
    transport.sock.settimeout(None)
    print(f'Вход выполнен: {args.name}')
    print_help()

    done = threading.Event()
    threading.Thread(target=receiver, args=(transport, done), daemon=True).start()
    name = args.name
    while not done.is_set():
        try:
            command = input()
        except EOFError:
            command = 'exit'
        try:
            if command == 'message':
                to_user = input('Кому: ')
                text = input('Текст: ')
                transport.send_message({ACTION: MESSAGE, SENDER: name, DESTINATION: to_user,
                                        TIME: time.time(), MESSAGE_TEXT: text})
            elif command == 'contacts':
                transport.send_message({ACTION: GET_CONTACTS, TIME: time.time(), USER: name})
            elif command in ('add', 'del'):
                contact = input('Имя: ')
                transport.send_message({ACTION: ADD_CONTACT if command == 'add' else REMOVE_CONTACT,
                                        TIME: time.time(), USER: name, ACCOUNT_NAME: contact})
            elif command == 'users':
                transport.send_message({ACTION: USERS_REQUEST, TIME: time.time(),
                                        ACCOUNT_NAME: name})
            elif command == 'help':
                print_help()
            elif command == 'exit':
                transport.send_message({ACTION: EXIT, TIME: time.time(), ACCOUNT_NAME: name})
                break
        except EOFError:
            continue
        except OSError:
            break
    time.sleep(0.2)
    transport.sock.close()
    if done.is_set():
        sys.exit(0)


if __name__ == '__main__':
    main()
