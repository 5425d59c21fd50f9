"""Клиент мессенджера (курс): поток приёма и поток интерфейса.

Запуск: python3 client.py 127.0.0.1 7777 -n test1
"""

import argparse
import json
import socket
import sys
import threading
import time


def send_message(sock, message):
    sock.send(json.dumps(message).encode('utf-8'))


def get_message(sock):
    data = sock.recv(1024)
    return json.loads(data.decode('utf-8'))


def message_from_server(sock, my_username):
    while True:
        try:
            message = get_message(sock)
            if message.get('action') == 'message' and message.get('to') == my_username:
                print(f"\nПолучено сообщение от пользователя {message['from']}:\n{message['mess_text']}")
            else:
                print(f'\nОтвет сервера: {message}')
        except (OSError, ConnectionError, json.JSONDecodeError):
            print('Потеряно соединение с сервером.')
            break


def user_interactive(sock, username):
    print('Команды: message, exit')
    while True:
        command = input('Введите команду: ')
        if command == 'message':
            to_user = input('Введите получателя сообщения: ')
            text = input('Введите сообщение для отправки: ')
            send_message(sock, {'action': 'message', 'from': username, 'to': to_user,
                                'time': time.time(), 'mess_text': text})
        elif command == 'exit':
            send_message(sock, {'action': 'exit', 'time': time.time(), 'account_name': username})
            print('Завершение соединения.')
            time.sleep(0.5)
            break
        else:
            print('Команда не распознана.')


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('addr', default='127.0.0.1', nargs='?')
    parser.add_argument('port', default=7777, type=int, nargs='?')
    parser.add_argument('-n', '--name', default=None, nargs='?')
    args = parser.parse_args()
    client_name = args.name
    if not client_name:
        client_name = input('Введите имя пользователя: ')

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.connect((args.addr, args.port))
    send_message(transport, {'action': 'presence', 'time': time.time(),
                             'user': {'account_name': client_name}})
    answer = get_message(transport)
    if answer.get('response') != 200:
        print(f"Сервер вернул ошибку: {answer.get('error')}")
        sys.exit(1)
    print(f'Установлено соединение с сервером. Пользователь: {client_name}')

    receiver = threading.Thread(target=message_from_server, args=(transport, client_name))
    receiver.daemon = True
    receiver.start()
    user_interface = threading.Thread(target=user_interactive, args=(transport, client_name))
    user_interface.daemon = True
    user_interface.start()

    while True:
        time.sleep(1)
        if receiver.is_alive() and user_interface.is_alive():
            continue
        break


if __name__ == '__main__':
    main()
