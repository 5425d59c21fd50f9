"""Серверное приложение мессенджера (итоговый проект курса).

Пользователи хранятся в базе SQLite (server_base.db3), вход по паролю с проверкой HMAC (код 511).
Регистрация пользователей: --seed ИМЯ:ПАРОЛЬ или --seed @файл (строки ИМЯ:ПАРОЛЬ).

Запуск: python3 server.py -p 7777 -a 127.0.0.1 --db server_base.db3 --seed @accounts.txt
"""

import argparse
import binascii
import hashlib
import hmac
import json
import logging
import os
import select
import socket
import sqlite3
import sys
import threading
import time
from functools import wraps

# ---- common/variables.py ----
DEFAULT_PORT = 7777
DEFAULT_IP_ADDRESS = ''
MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'
SERVER_DATABASE = 'server_base.db3'

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
REMOVE_CONTACT = 'remove'
ADD_CONTACT = 'add'
USERS_REQUEST = 'get_users'
PUBLIC_KEY_REQUEST = 'pubkey_need'

RESPONSE_200 = {RESPONSE: 200}
RESPONSE_202 = {RESPONSE: 202, LIST_INFO: None}
RESPONSE_400 = {RESPONSE: 400, ERROR: None}
RESPONSE_205 = {RESPONSE: 205}
RESPONSE_511 = {RESPONSE: 511, DATA: None}

# ---- logs/config_server_log.py (в курсе ещё файл server.log; здесь только stderr) ----
logger = logging.getLogger('server')
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)-8s %(module)s %(message)s'))
logger.addHandler(_handler)
logger.setLevel(logging.INFO)


def log(func_to_log):
    """Декоратор: записывает в журнал вызов функции."""
    @wraps(func_to_log)
    def log_saver(*args, **kwargs):
        logger.debug(f'Была вызвана функция {func_to_log.__name__} c параметрами {args}, {kwargs}.')
        return func_to_log(*args, **kwargs)
    return log_saver


# ---- common/utils.py ----
@log
def get_message(client):
    """Принимает сообщение: байты -> строка -> словарь."""
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    json_response = encoded_response.decode(ENCODING)
    response = json.loads(json_response)
    if isinstance(response, dict):
        return response
    raise TypeError


@log
def send_message(sock, message):
    """Кодирует словарь в JSON и отправляет."""
    js_message = json.dumps(message)
    encoded_message = js_message.encode(ENCODING)
    sock.send(encoded_message)


def password_hash(name, password):
    """Хэш пароля, как в диалоге регистрации пользователя: соль - имя в нижнем регистре."""
    passwd_bytes = password.encode('utf-8')
    salt = name.lower().encode('utf-8')
    return binascii.hexlify(hashlib.pbkdf2_hmac('sha512', passwd_bytes, salt, 10000))


# ---- server_database.py ----
class ServerStorage:
    """База сервера: пользователи, активные пользователи, история входов, контакты."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.executescript('''
            CREATE TABLE IF NOT EXISTS users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name TEXT UNIQUE,
                last_login TEXT,
                passwd_hash TEXT,
                pubkey TEXT);
            CREATE TABLE IF NOT EXISTS active_users (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user INTEGER UNIQUE REFERENCES users(id),
                ip_address TEXT,
                port INTEGER,
                login_time TEXT);
            CREATE TABLE IF NOT EXISTS login_history (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                name INTEGER REFERENCES users(id),
                date_time TEXT,
                ip TEXT,
                port INTEGER);
            CREATE TABLE IF NOT EXISTS contacts (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user INTEGER REFERENCES users(id),
                contact INTEGER REFERENCES users(id));
            CREATE TABLE IF NOT EXISTS history (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                user INTEGER UNIQUE REFERENCES users(id),
                sent INTEGER DEFAULT 0,
                accepted INTEGER DEFAULT 0);
        ''')
        # При запуске очищаем таблицу активных пользователей
        self.conn.execute('DELETE FROM active_users')
        self.conn.commit()

    def _user_id(self, name):
        row = self.conn.execute('SELECT id FROM users WHERE name = ?', (name,)).fetchone()
        return row[0] if row else None

    def add_user(self, name, passwd_hash):
        with self.lock:
            if self._user_id(name) is None:
                self.conn.execute('INSERT INTO users (name, passwd_hash) VALUES (?, ?)',
                                  (name, passwd_hash.decode('ascii')))
                self.conn.execute('INSERT INTO history (user) VALUES (?)', (self._user_id(name),))
            else:
                self.conn.execute('UPDATE users SET passwd_hash = ? WHERE name = ?',
                                  (passwd_hash.decode('ascii'), name))
            self.conn.commit()

    def check_user(self, name):
        with self.lock:
            return self._user_id(name) is not None

    def get_hash(self, name):
        with self.lock:
            row = self.conn.execute('SELECT passwd_hash FROM users WHERE name = ?',
                                    (name,)).fetchone()
        return row[0].encode('ascii')

    def get_pubkey(self, name):
        with self.lock:
            row = self.conn.execute('SELECT pubkey FROM users WHERE name = ?', (name,)).fetchone()
        return row[0] if row else None

    def user_login(self, username, ip_address, port, key):
        now = time.strftime('%Y-%m-%d %H:%M:%S')
        with self.lock:
            user_id = self._user_id(username)
            self.conn.execute('UPDATE users SET last_login = ?, pubkey = ? WHERE id = ?',
                              (now, key, user_id))
            self.conn.execute('INSERT OR REPLACE INTO active_users (user, ip_address, port, login_time) '
                              'VALUES (?, ?, ?, ?)', (user_id, ip_address, port, now))
            self.conn.execute('INSERT INTO login_history (name, date_time, ip, port) VALUES (?, ?, ?, ?)',
                              (user_id, now, ip_address, port))
            self.conn.commit()

    def user_logout(self, username):
        with self.lock:
            self.conn.execute('DELETE FROM active_users WHERE user = ?', (self._user_id(username),))
            self.conn.commit()

    def process_message(self, sender, recipient):
        with self.lock:
            self.conn.execute('UPDATE history SET sent = sent + 1 WHERE user = ?',
                              (self._user_id(sender),))
            self.conn.execute('UPDATE history SET accepted = accepted + 1 WHERE user = ?',
                              (self._user_id(recipient),))
            self.conn.commit()

    def add_contact(self, user, contact):
        with self.lock:
            user_id, contact_id = self._user_id(user), self._user_id(contact)
            # Проверяем что не дубль и что контакт может существовать
            if contact_id is None or self.conn.execute(
                    'SELECT 1 FROM contacts WHERE user = ? AND contact = ?',
                    (user_id, contact_id)).fetchone():
                return
            self.conn.execute('INSERT INTO contacts (user, contact) VALUES (?, ?)',
                              (user_id, contact_id))
            self.conn.commit()

    def remove_contact(self, user, contact):
        with self.lock:
            contact_id = self._user_id(contact)
            if contact_id is None:
                return
            self.conn.execute('DELETE FROM contacts WHERE user = ? AND contact = ?',
                              (self._user_id(user), contact_id))
            self.conn.commit()

    def users_list(self):
        with self.lock:
            return self.conn.execute('SELECT name, last_login FROM users').fetchall()

    def get_contacts(self, username):
        with self.lock:
            rows = self.conn.execute(
                'SELECT u.name FROM contacts c JOIN users u ON u.id = c.contact '
                'WHERE c.user = ?', (self._user_id(username),)).fetchall()
        return [row[0] for row in rows]


# ---- server/core.py ----
class MessageProcessor(threading.Thread):
    """Основной класс сервера: принимает соединения, словари - пакеты от клиентов,
    обрабатывает поступающие сообщения."""

    def __init__(self, listen_address, listen_port, database):
        self.addr = listen_address
        self.port = listen_port
        self.database = database
        self.sock = None
        self.clients = []
        self.listen_sockets = None
        self.error_sockets = None
        self.running = True
        # Словарь содержащий сопоставленные имена и соответствующие им сокеты.
        self.names = dict()
        super().__init__()

    def run(self):
        self.init_socket()
        while self.running:
            # Ждём подключения, если таймаут вышел, ловим исключение.
            try:
                client, client_address = self.sock.accept()
            except OSError:
                pass
            else:
                logger.info(f'Установлено соедение с ПК {client_address}')
                # защита от зависшего клиента при авторизации (в курсе сокет блокирующий)
                client.settimeout(5)
                self.clients.append(client)

            recv_data_lst = []
            # Проверяем на наличие ждущих клиентов
            try:
                if self.clients:
                    recv_data_lst, self.listen_sockets, self.error_sockets = select.select(
                        self.clients, self.clients, [], 0)
            except OSError as err:
                logger.error(f'Ошибка работы с сокетами: {err.errno}')

            # принимаем сообщения и если ошибка, исключаем клиента.
            if recv_data_lst:
                for client_with_message in recv_data_lst:
                    try:
                        self.process_client_message(get_message(client_with_message),
                                                    client_with_message)
                    except (OSError, ValueError, TypeError) as err:
                        logger.debug('Getting data from client exception.', exc_info=err)
                        self.remove_client(client_with_message)

    def remove_client(self, client):
        """Обработчик клиента с которым прервана связь: ищет клиента и удаляет его из списков и базы."""
        logger.info(f'Клиент {client} отключился от сервера.')
        for name in self.names:
            if self.names[name] == client:
                self.database.user_logout(name)
                del self.names[name]
                break
        if client in self.clients:
            self.clients.remove(client)
        client.close()
        self.service_update_lists()

    def init_socket(self):
        """Инициализация сокета."""
        logger.info(f'Запущен сервер, порт для подключений: {self.port} , адрес: {self.addr}.')
        family = socket.AF_INET6 if ':' in self.addr else socket.AF_INET
        transport = socket.socket(family, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.addr, self.port))
        # Таймаут accept (в курсе 0.5 с; уменьшен, чтобы сервер быстрее отвечал)
        transport.settimeout(0.05)
        self.sock = transport
        self.sock.listen(MAX_CONNECTIONS)

    def process_message(self, message):
        """Отправка сообщения клиенту."""
        if message[DESTINATION] in self.names and self.names[message[DESTINATION]] in self.listen_sockets:
            try:
                send_message(self.names[message[DESTINATION]], message)
                logger.info(f'Отправлено сообщение пользователю {message[DESTINATION]} '
                            f'от пользователя {message[SENDER]}.')
            except OSError:
                self.remove_client(self.names[message[DESTINATION]])
        elif message[DESTINATION] in self.names and self.names[message[DESTINATION]] not in self.listen_sockets:
            logger.error(f'Связь с клиентом {message[DESTINATION]} была потеряна. Соединение закрыто, '
                         f'доставка невозможна.')
            self.remove_client(self.names[message[DESTINATION]])
        else:
            logger.error(f'Пользователь {message[DESTINATION]} не зарегистрирован на сервере, '
                         f'отправка сообщения невозможна.')

    @log
    def process_client_message(self, message, client):
        """Обработчик поступающих сообщений."""
        logger.debug(f'Разбор сообщения от клиента : {message}')
        # Если это сообщение о присутствии, принимаем и отвечаем
        if ACTION in message and message[ACTION] == PRESENCE and TIME in message and USER in message \
                and isinstance(message[USER], dict) and isinstance(message[USER].get(ACCOUNT_NAME), str):
            # Если сообщение о присутствии то вызываем функцию авторизации.
            self.autorize_user(message, client)

        # Если это сообщение, то отправляем его получателю.
        elif ACTION in message and message[ACTION] == MESSAGE and DESTINATION in message and TIME in message \
                and SENDER in message and MESSAGE_TEXT in message \
                and self.names.get(message[SENDER]) == client:
            if message[DESTINATION] in self.names:
                self.database.process_message(message[SENDER], message[DESTINATION])
                self.process_message(message)
                try:
                    send_message(client, RESPONSE_200)
                except OSError:
                    self.remove_client(client)
            else:
                response = RESPONSE_400
                response[ERROR] = 'Пользователь не зарегистрирован на сервере.'
                try:
                    send_message(client, response)
                except OSError:
                    pass
            return

        # Если клиент выходит
        elif ACTION in message and message[ACTION] == EXIT and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            self.remove_client(client)

        # Если это запрос контакт-листа
        elif ACTION in message and message[ACTION] == GET_CONTACTS and USER in message \
                and self.names.get(message[USER]) == client:
            response = RESPONSE_202
            response[LIST_INFO] = self.database.get_contacts(message[USER])
            try:
                send_message(client, response)
            except OSError:
                self.remove_client(client)

        # Если это добавление контакта
        elif ACTION in message and message[ACTION] == ADD_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            self.database.add_contact(message[USER], message[ACCOUNT_NAME])
            try:
                send_message(client, RESPONSE_200)
            except OSError:
                self.remove_client(client)

        # Если это удаление контакта
        elif ACTION in message and message[ACTION] == REMOVE_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            self.database.remove_contact(message[USER], message[ACCOUNT_NAME])
            try:
                send_message(client, RESPONSE_200)
            except OSError:
                self.remove_client(client)

        # Если это запрос известных пользователей
        elif ACTION in message and message[ACTION] == USERS_REQUEST and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            response = RESPONSE_202
            response[LIST_INFO] = [user[0] for user in self.database.users_list()]
            try:
                send_message(client, response)
            except OSError:
                self.remove_client(client)

        # Если это запрос публичного ключа пользователя
        elif ACTION in message and message[ACTION] == PUBLIC_KEY_REQUEST and ACCOUNT_NAME in message:
            response = RESPONSE_511
            response[DATA] = self.database.get_pubkey(message[ACCOUNT_NAME])
            # может быть, что ключа ещё нет (пользователь никогда не логинился, тогда шлём 400)
            if response[DATA]:
                try:
                    send_message(client, response)
                except OSError:
                    self.remove_client(client)
            else:
                response = RESPONSE_400
                response[ERROR] = 'Нет публичного ключа для данного пользователя'
                try:
                    send_message(client, response)
                except OSError:
                    self.remove_client(client)

        # Иначе отдаём Bad request
        else:
            response = RESPONSE_400
            response[ERROR] = 'Запрос некорректен.'
            try:
                send_message(client, response)
            except OSError:
                self.remove_client(client)

    def autorize_user(self, message, sock):
        """Метод реализующий авторизцию пользователей."""
        logger.debug(f'Start auth process for {message[USER]}')
        # Если имя пользователя уже занято то возвращаем 400
        if message[USER][ACCOUNT_NAME] in self.names.keys():
            response = RESPONSE_400
            response[ERROR] = 'Имя пользователя уже занято.'
            try:
                logger.debug(f'Username busy, sending {response}')
                send_message(sock, response)
            except OSError:
                logger.debug('OS Error')
            self.clients.remove(sock)
            sock.close()
        # Проверяем что пользователь зарегистрирован на сервере.
        elif not self.database.check_user(message[USER][ACCOUNT_NAME]):
            response = RESPONSE_400
            response[ERROR] = 'Пользователь не зарегистрирован.'
            try:
                logger.debug(f'Unknown username, sending {response}')
                send_message(sock, response)
            except OSError:
                pass
            self.clients.remove(sock)
            sock.close()
        else:
            logger.debug('Correct username, starting passwd check.')
            # Иначе отвечаем 511 и проводим процедуру авторизации
            message_auth = RESPONSE_511
            # Набор байтов в hex представлении
            random_str = binascii.hexlify(os.urandom(64))
            # В словарь байты нельзя, декодируем (json.dumps -> TypeError)
            message_auth[DATA] = random_str.decode('ascii')
            # Создаём хэш пароля и связки с рандомной строкой, сохраняем серверную версию ключа
            hash = hmac.new(self.database.get_hash(message[USER][ACCOUNT_NAME]), random_str, 'MD5')
            digest = hash.digest()
            logger.debug(f'Auth message = {message_auth}')
            try:
                # Обмен с клиентом
                send_message(sock, message_auth)
                ans = get_message(sock)
            except (OSError, ValueError) as err:
                logger.debug('Error in auth, data:', exc_info=err)
                self.clients.remove(sock)
                sock.close()
                return
            client_digest = binascii.a2b_base64(ans.get(DATA) or '')
            # Если ответ клиента корректный, то сохраняем его в список пользователей.
            if RESPONSE in ans and ans[RESPONSE] == 511 and hmac.compare_digest(digest, client_digest):
                self.names[message[USER][ACCOUNT_NAME]] = sock
                client_ip, client_port = sock.getpeername()[:2]
                try:
                    send_message(sock, RESPONSE_200)
                except OSError:
                    self.remove_client(sock)
                # добавляем пользователя в список активных и,
                # если у него изменился открытый ключ, сохраняем новый
                self.database.user_login(
                    message[USER][ACCOUNT_NAME],
                    client_ip,
                    client_port,
                    message[USER].get(PUBLIC_KEY))
                self.service_update_lists()
            else:
                response = RESPONSE_400
                response[ERROR] = 'Неверный пароль.'
                try:
                    send_message(sock, response)
                except OSError:
                    pass
                self.clients.remove(sock)
                sock.close()

    def service_update_lists(self):
        """Метод реализующий отправку сервисного сообщения 205 клиентам."""
        for client in list(self.names):
            if client not in self.names:
                continue
            try:
                send_message(self.names[client], RESPONSE_205)
            except OSError:
                self.remove_client(self.names[client])


def seed_users(database, seeds):
    """--seed ИМЯ:ПАРОЛЬ или --seed @ФАЙЛ (строки ИМЯ:ПАРОЛЬ, # - комментарий)."""
    for seed in seeds:
        if seed.startswith('@'):
            with open(seed[1:], encoding='utf-8') as file:
                lines = [line.rstrip('\r\n') for line in file]
        else:
            lines = [seed]
        for line in lines:
            if not line.strip() or line.lstrip().startswith('#'):
                continue
            name, _, password = line.partition(':')
            name = name.strip()
            database.add_user(name, password_hash(name, password))
            logger.info(f'Зарегистрирован пользователь {name}')


def arg_parser():
    """Парсер аргументов командной строки."""
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', default=DEFAULT_PORT, type=int, nargs='?')
    parser.add_argument('-a', default=DEFAULT_IP_ADDRESS, nargs='?')
    parser.add_argument('--db', default=SERVER_DATABASE, help='файл базы (или :memory:)')
    parser.add_argument('--seed', action='append', default=[],
                        help='зарегистрировать пользователя ИМЯ:ПАРОЛЬ или все из @ФАЙЛА')
    namespace = parser.parse_args(sys.argv[1:])
    return namespace.a, namespace.p, namespace.db, namespace.seed


def print_help():
    print('Поддерживаемые комманды:')
    print('users - список известных пользователей')
    print('exit - завершение работы сервера.')
    print('help - вывод справки по поддерживаемым командам')


def main():
    listen_address, listen_port, db_path, seeds = arg_parser()
    database = ServerStorage(db_path)
    seed_users(database, seeds)

    server = MessageProcessor(listen_address, listen_port, database)
    server.daemon = True
    server.start()

    # Консоль сервера (режим --no_gui курса)
    while True:
        try:
            command = input('Введите комманду: ')
        except EOFError:
            # stdin закрыт (сервер запущен не из терминала): работаем без консоли,
            # как окно сервера в режиме GUI
            while server.running:
                time.sleep(1)
            break
        if command == 'help':
            print_help()
        elif command == 'exit':
            server.running = False
            server.join()
            break
        elif command == 'users':
            for user in sorted(database.users_list()):
                print(f'Пользователь {user[0]}, последний вход: {user[1]}')
        else:
            print('Команда не распознана.')


if __name__ == '__main__':
    main()
