"""Сервер мессенджера: отдельный поток на каждого клиента.

Протокол курса: presence, message (from/to/mess_text), exit, get_contacts, add, remove,
get_users. Запуск: python3 server.py -p 7777 -a 127.0.0.1
"""

import argparse
import json
import logging
import socket
import sys
import threading

LOG = logging.getLogger('server')
logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format='%(asctime)s %(threadName)s %(levelname)s %(message)s')

RESPONSE_200 = {'response': 200}


def send_message(sock, message):
    sock.send(json.dumps(message).encode('utf-8'))


class ServerState:
    """Общее состояние: кто в сети, контакты. Доступ только под замком."""

    def __init__(self):
        self.lock = threading.Lock()
        self.names = {}
        self.users = []
        self.contacts = {}


def handle_client(state, sock, address):
    LOG.info('клиент %s подключился', address)
    name = None
    while True:
        data = sock.recv(1024)
        state.lock.acquire()
        message = json.loads(data.decode('utf-8'))
        action = message.get('action')
        if action == 'presence' and 'time' in message and isinstance(message.get('user'), dict):
            account = message['user'].get('account_name')
            if not isinstance(account, str) or not account:
                send_message(sock, {'response': 400, 'error': 'Нет имени пользователя.'})
            elif account in state.names and state.names[account] is not sock:
                send_message(sock, {'response': 400, 'error': 'Имя пользователя уже занято.'})
                state.lock.release()
                sock.close()
                return
            else:
                name = account
                state.names[name] = sock
                if name not in state.users:
                    state.users.append(name)
                send_message(sock, RESPONSE_200)
        elif name is None:
            send_message(sock, {'response': 401, 'error': 'Сначала представьтесь (presence).'})
        elif action == 'message' and message.get('from') == name \
                and 'to' in message and 'mess_text' in message:
            target = state.names.get(message['to'])
            if target is None:
                send_message(sock, {'response': 400, 'error': 'Пользователь не в сети.'})
            else:
                send_message(target, message)
                send_message(sock, RESPONSE_200)
        elif action == 'exit':
            del state.names[name]
            state.lock.release()
            sock.close()
            LOG.info('%s вышел', name)
            return
        elif action == 'get_contacts':
            send_message(sock, {'response': 202, 'data_list': state.contacts.get(name, [])})
        elif action in ('add', 'remove') and isinstance(message.get('account_name'), str):
            mine = state.contacts.setdefault(name, [])
            contact = message['account_name']
            if action == 'add' and contact in state.users and contact not in mine:
                mine.append(contact)
            elif action == 'remove' and contact in mine:
                mine.remove(contact)
            send_message(sock, RESPONSE_200)
        elif action == 'get_users':
            send_message(sock, {'response': 202, 'data_list': list(state.users)})
        else:
            send_message(sock, {'response': 400, 'error': 'Запрос некорректен.'})
        state.lock.release()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.a, args.p))
    server.listen(5)
    LOG.info('сервер слушает порт %s', args.p)
    state = ServerState()
    while True:
        sock, address = server.accept()
        threading.Thread(target=handle_client, args=(state, sock, address), daemon=True).start()


if __name__ == '__main__':
    main()
