"""The widely copied lesson-3 reference solution: only Guest gets 200, and its 400 has no "response".

Models: jim-protocol.md §2b ("The widely copied lesson-3 reference solution accepts only
account_name == "Guest" and answers 400 to any other name") and §6 ("Lesson-3 servers die on
"user": {}"); PROTOCOL.md §lesson3 (Guest-only convention); issue 13, items 5 and 6. Written like
the course's lesson-3 solution, with common/variables.py inlined, including the constant that a
search-and-replace mangled in the course materials: the refusal is sent under the key
"respondefault_ip_addressse" instead of "response" (many students copied it as is).

Dialect: lesson 3 (course). get_message() is one recv(1024) + json.loads and raises ValueError
for a non-dict; the loop catches ValueError (so JSONDecodeError, an empty read, a connect-and-
close are survived: "Принято некорретное сообщение от клиента."), nothing else. A presence with
action, time, user and user.account_name == "Guest" gets {"response": 200}; anything else gets
{"respondefault_ip_addressse": 400, "error": "Bad Request"}; then close. "user": {} raises
KeyError and "user": "Guest" raises TypeError outside the except: the process exits.

Expected verdicts (see manifest.json): auto picks lesson3 with name Guest; lesson3/presence
passes (leniently); the destructive "user" = {} and "user" not an object cases fail (died);
exit 1. With --name Alice: lesson3/presence fails and the hint says Guest-only server, and that
the refusal has no "response" key (the key name is wrong), not a generic one.

Run: python3 lesson3_guest_only.py -p PORT [-a ADDR]
"""

import json
import socket
import sys

# ---- common/variables.py ----
DEFAULT_PORT = 7777
DEFAULT_IP_ADDRESS = '127.0.0.1'
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


# ---- common/utils.py ----
def get_message(client):
    """Утилита приёма и декодирования сообщения: принимает байты, выдаёт словарь,
    если принято что-то другое, отдаёт ошибку значения."""
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    if isinstance(encoded_response, bytes):
        json_response = encoded_response.decode(ENCODING)
        response = json.loads(json_response)
        if isinstance(response, dict):
            return response
        raise ValueError
    raise ValueError


def send_message(sock, message):
    """Утилита кодирования и отправки сообщения: принимает словарь и отправляет его."""
    js_message = json.dumps(message)
    encoded_message = js_message.encode(ENCODING)
    sock.send(encoded_message)


def process_client_message(message):
    """Обработчик сообщений от клиентов, принимает словарь - сообщение от клинта,
    проверяет корректность, возвращает словарь-ответ для клиента."""
    if ACTION in message and message[ACTION] == PRESENCE and TIME in message \
            and USER in message and message[USER][ACCOUNT_NAME] == 'Guest':
        return {RESPONSE: 200}
    return {
        RESPONDEFAULT_IP_ADDRESSSE: 400,
        ERROR: 'Bad Request'
    }


def main():
    """Загрузка параметров командной строки, если нет параметров, то задаём значения по умолчанию.
    server.py -p 8079 -a 192.168.1.2"""
    try:
        if '-p' in sys.argv:
            listen_port = int(sys.argv[sys.argv.index('-p') + 1])
        else:
            listen_port = DEFAULT_PORT
        if listen_port < 1024 or listen_port > 65535:
            raise ValueError
    except IndexError:
        print('После параметра -\'p\' необходимо указать номер порта.')
        sys.exit(1)
    except ValueError:
        print('В качастве порта может быть указано только число в диапазоне от 1024 до 65535.')
        sys.exit(1)

    try:
        if '-a' in sys.argv:
            listen_address = sys.argv[sys.argv.index('-a') + 1]
        else:
            listen_address = ''
    except IndexError:
        print('После параметра \'a\'- необходимо указать адрес, который будет слушать сервер.')
        sys.exit(1)

    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((listen_address, listen_port))
    transport.listen(MAX_CONNECTIONS)

    while True:
        client, client_address = transport.accept()
        try:
            message_from_cient = get_message(client)
            print(message_from_cient)
            response = process_client_message(message_from_cient)
            send_message(client, response)
            client.close()
        except (ValueError, json.JSONDecodeError):
            print('Принято некорретное сообщение от клиента.')
            client.close()


if __name__ == '__main__':
    main()
