"""Lesson-3 server whose replies carry "time" as a formatted date string.

Models: jim-protocol.md §5 ("time: float (most), int, numeric string, formatted date, junk
text"); issue 13, item 2 ("a string time passes 'the reply carries a numeric time'"). Written
like the lesson-3 course server (get_message/send_message, process_client_message returning a
dict, one-shot: reply and close), with a `@log` decorator and argparse `-p -a`.

Dialect: course/spec lesson 3. Answers a presence that has action, time and
user.account_name with {"response": 200, "time": "22.11.2024 10:15:00", "alert": "OK"} (the
time from datetime.strftime, a string that is not a number), anything else with 400; then closes.
Otherwise correct: survives an empty read, broken JSON and a user that is not an object.

Expected verdicts (see manifest.json): lesson3 profile, exit 0 (a missing or unusable time is
tolerated in lesson 3); lesson3/reply-has-time must fail ("the reply carries a numeric time":
a date string is not one), and lesson3/presence passes only leniently (no-time), never as a
plain pass.

Run: python3 string_time_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import logging
import socket
import sys
from datetime import datetime
from functools import wraps

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ALERT = 'alert'
ERROR = 'error'
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'

LOGGER = logging.getLogger('server')
logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                    format='%(asctime)s %(levelname)s %(message)s')


def log(func):
    @wraps(func)
    def wrapper(*args, **kwargs):
        LOGGER.debug(f'вызов {func.__name__}{args}')
        return func(*args, **kwargs)
    return wrapper


@log
def get_message(client):
    data = client.recv(MAX_PACKAGE_LENGTH)
    message = json.loads(data.decode(ENCODING))
    if not isinstance(message, dict):
        raise ValueError('не словарь')
    return message


@log
def send_message(client, message):
    client.send(json.dumps(message).encode(ENCODING))


@log
def process_client_message(message):
    user = message.get(USER)
    if message.get(ACTION) == PRESENCE and TIME in message and isinstance(user, dict) \
            and isinstance(user.get(ACCOUNT_NAME), str):
        return {RESPONSE: 200, TIME: datetime.now().strftime('%d.%m.%Y %H:%M:%S'), ALERT: 'OK'}
    return {RESPONSE: 400, TIME: datetime.now().strftime('%d.%m.%Y %H:%M:%S'), ERROR: 'Bad Request'}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()
    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((args.a, args.p))
    transport.listen(5)
    LOGGER.info(f'Сервер запущен на порту {args.p}')
    while True:
        client, client_address = transport.accept()
        client.settimeout(10)
        try:
            message = get_message(client)
            LOGGER.info(f'Сообщение от {client_address}: {message}')
            send_message(client, process_client_message(message))
        except (ValueError, OSError) as err:
            LOGGER.error(f'Принято некорректное сообщение от клиента {client_address}: {err}')
        client.close()


if __name__ == '__main__':
    main()
