"""Spec server that exits when a client resets its connection (getpeername() in the handler).

Models: jim-protocol.md §6 ("A server's error handler that calls getpeername() on a socket the
client has reset raises and ends the process"); issue 13, item 4 (that crash was never named).
Same structure as quit_400.py (methodology-style select() server); quit is handled.

Dialect: spec, otherwise correct for whole delivery. The defect: recv() on a reset connection
raises ConnectionResetError, and the handler logs the peer with sock.getpeername(), which raises
OSError [Errno 107] (Transport endpoint is not connected) inside the except clause; nothing
catches it, the traceback goes to stderr and the process exits with status 1. An orderly close
(FIN) is handled (b"" -> remove the client), so only an RST kills it.

Expected verdicts (see manifest.json): spec profile, exit 1 (the target died): robustness/
abrupt-reset is the case that killed it, named once, with the target's last output lines (the
getpeername traceback); in host mode later cases are "not run: target down", in spawn mode they
run after a restart and pass. Root cause: "the server died when a client reset its connection".

Run: python3 dies_on_reset.py -p PORT [-a ADDR]
"""

import json
import logging
import select
import socket
import sys
import time
from functools import wraps

# ---- common/variables.py ----
DEFAULT_PORT = 7777
DEFAULT_IP_ADDRESS = ''
MAX_CONNECTIONS = 10
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
SENDER = 'from'
DESTINATION = 'to'
ROOM = 'room'
USER_ID = 'user_id'
PRESENCE = 'presence'
MSG = 'msg'
QUIT = 'quit'
JOIN = 'join'
LEAVE = 'leave'
GET_CONTACTS = 'get_contacts'
ADD_CONTACT = 'add_contact'
DEL_CONTACT = 'del_contact'
RESPONSE = 'response'
ALERT = 'alert'
ERROR = 'error'
MESSAGE = 'message'
ENCODING_KEY = 'encoding'

logger = logging.getLogger('server')
_handler = logging.StreamHandler(sys.stderr)
_handler.setFormatter(logging.Formatter('%(asctime)s %(levelname)s %(message)s'))
logger.addHandler(_handler)
logger.setLevel(logging.INFO)


def log(func):
    """Декоратор, фиксирующий вызовы функций в журнале."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        result = func(*args, **kwargs)
        logger.debug(f'Функция {func.__name__}({args}, {kwargs}) вернула {result}')
        return result
    return wrapper


def response(code, text=''):
    """Ответ сервера по методичке: код, время, alert или error."""
    key = ALERT if code < 400 else ERROR
    return {RESPONSE: code, TIME: time.time(), key: text}


def send_message(sock, message):
    sock.send(json.dumps(message).encode(ENCODING))


def valid_room(room):
    return isinstance(room, str) and room.startswith('#') and 1 < len(room) <= 25


class Server:
    def __init__(self, addr, port):
        self.addr = addr
        self.port = port
        self.clients = []      # все сокеты
        self.names = {}        # имя -> сокет
        self.rooms = {}        # '#комната' -> множество сокетов
        self.contacts = {}     # имя -> список имён
        self.known = set()     # все, кто когда-либо входил

    def name_of(self, sock):
        for name, client in self.names.items():
            if client is sock:
                return name
        return None

    def remove_client(self, sock):
        name = self.name_of(sock)
        if name is not None:
            del self.names[name]
            logger.info(f'Пользователь {name} отключился')
        for members in self.rooms.values():
            members.discard(sock)
        if sock in self.clients:
            self.clients.remove(sock)
        sock.close()

    @log
    def process_client_message(self, message, sock):
        """Разбирает сообщение клиента и отвечает на него."""
        if not isinstance(message, dict):
            send_message(sock, response(400, 'Ожидается JSON-объект'))
            return
        if RESPONSE in message:
            return
        action = message.get(ACTION)
        name = self.name_of(sock)

        if action == PRESENCE and TIME in message:
            user = message.get(USER)
            account = user.get(ACCOUNT_NAME) if isinstance(user, dict) else None
            if not isinstance(account, str) or not 0 < len(account) <= 25 or account.startswith('#'):
                send_message(sock, response(400, 'Некорректный presence: нужен user.account_name'))
            elif name is not None and name != account:
                send_message(sock, response(400, f'Вы уже вошли как {name}'))
            elif account in self.names and self.names[account] is not sock:
                send_message(sock, response(409, f'Имя {account} уже занято'))
            else:
                self.names[account] = sock
                self.known.add(account)
                logger.info(f'Пользователь {account} вошёл')
                send_message(sock, response(200, 'OK'))
            return

        if action == QUIT:
            logger.info(f'Пользователь {name} вышел')
            self.remove_client(sock)
            return

        if action in (MSG, JOIN, LEAVE, GET_CONTACTS, ADD_CONTACT, DEL_CONTACT) and name is None:
            send_message(sock, response(401, 'Сначала отправьте presence'))
            return

        if action == MSG:
            to, text = message.get(DESTINATION), message.get(MESSAGE)
            if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
                send_message(sock, response(400, 'В сообщении нужны to и message (до 500 символов)'))
                return
            relay = {ACTION: MSG, TIME: time.time(), DESTINATION: to, SENDER: name,
                     ENCODING_KEY: message.get(ENCODING_KEY, 'ascii'), MESSAGE: text}
            if to.startswith('#'):
                if not valid_room(to):
                    send_message(sock, response(400, 'Некорректное имя комнаты'))
                elif to not in self.rooms:
                    send_message(sock, response(404, f'Нет комнаты {to}'))
                elif sock not in self.rooms[to]:
                    send_message(sock, response(403, f'Вы не в комнате {to}'))
                else:
                    for member in self.rooms[to]:
                        if member is not sock:
                            send_message(member, relay)
                    send_message(sock, response(200, 'Доставлено'))
            elif to in self.names:
                send_message(self.names[to], relay)
                send_message(sock, response(200, 'Доставлено'))
            else:
                send_message(sock, response(404, f'Пользователь {to} не в сети'))

        elif action == JOIN:
            room = message.get(ROOM)
            if not valid_room(room):
                send_message(sock, response(400, 'Некорректное имя комнаты'))
                return
            self.rooms.setdefault(room, set()).add(sock)
            send_message(sock, response(200, f'Вы в комнате {room}'))

        elif action == LEAVE:
            room = message.get(ROOM)
            if not valid_room(room):
                send_message(sock, response(400, 'Некорректное имя комнаты'))
            elif sock not in self.rooms.get(room, set()):
                send_message(sock, response(404, f'Вы не в комнате {room}'))
            else:
                self.rooms[room].discard(sock)
                if not self.rooms[room]:
                    del self.rooms[room]
                send_message(sock, response(200, f'Вы покинули {room}'))

        elif action == GET_CONTACTS:
            send_message(sock, {RESPONSE: 202, TIME: time.time(),
                                ALERT: sorted(self.contacts.get(name, []))})

        elif action == ADD_CONTACT:
            contact = message.get(USER_ID)
            if not isinstance(contact, str) or not contact:
                send_message(sock, response(400, 'Нужен user_id'))
            elif contact not in self.known:
                send_message(sock, response(404, f'Пользователь {contact} не найден'))
            else:
                contacts = self.contacts.setdefault(name, [])
                if contact not in contacts:
                    contacts.append(contact)
                send_message(sock, response(200, 'Контакт добавлен'))

        elif action == DEL_CONTACT:
            contact = message.get(USER_ID)
            contacts = self.contacts.get(name, [])
            if not isinstance(contact, str) or not contact:
                send_message(sock, response(400, 'Нужен user_id'))
            elif contact not in contacts:
                send_message(sock, response(404, f'{contact} нет в контактах'))
            else:
                contacts.remove(contact)
                send_message(sock, response(200, 'Контакт удалён'))

        else:
            send_message(sock, response(400, f'Неизвестное действие: {str(action)[:15]}'))

    def main_loop(self):
        family = socket.AF_INET6 if ':' in self.addr else socket.AF_INET
        transport = socket.socket(family, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.addr, self.port))
        transport.listen(MAX_CONNECTIONS)
        logger.info(f'Сервер запущен на {self.addr}:{self.port}')

        while True:
            readable, _, _ = select.select([transport] + self.clients, [], [], 1)
            for sock in readable:
                if sock is transport:
                    client, address = transport.accept()
                    logger.info(f'Подключение от {address}')
                    self.clients.append(client)
                    continue
                try:
                    data = sock.recv(MAX_PACKAGE_LENGTH)
                except ConnectionResetError:
                    logger.warning(f'Клиент {sock.getpeername()} разорвал соединение')
                    self.remove_client(sock)
                    continue
                except OSError:
                    self.remove_client(sock)
                    continue
                if not data:
                    self.remove_client(sock)
                    continue
                try:
                    message = json.loads(data.decode(ENCODING))
                except ValueError:
                    try:
                        send_message(sock, response(400, 'Некорректный JSON'))
                    except OSError:
                        self.remove_client(sock)
                    continue
                try:
                    self.process_client_message(message, sock)
                except OSError:
                    self.remove_client(sock)


def main():
    try:
        port = int(sys.argv[sys.argv.index('-p') + 1]) if '-p' in sys.argv else DEFAULT_PORT
        if not 1024 <= port <= 65535:
            raise ValueError
    except (IndexError, ValueError):
        print('После -p нужен номер порта от 1024 до 65535.')
        sys.exit(1)
    try:
        addr = sys.argv[sys.argv.index('-a') + 1] if '-a' in sys.argv else DEFAULT_IP_ADDRESS
    except IndexError:
        print('После -a нужен адрес.')
        sys.exit(1)
    Server(addr, port).main_loop()


if __name__ == '__main__':
    main()
