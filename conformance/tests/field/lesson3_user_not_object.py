"""Lesson-3 server that survives "user": {} but dies when "user" is not an object.

Models: issue 13, item 5 (lesson 3 needs the missing-key inputs "user" empty object and "user"
not an object); jim-protocol.md §5 ("user as a plain string"). The careful student: every
lookup uses dict.get(), so a missing or empty "user" gets 400, but nobody checks the type:
message.get("user", {}).get("account_name") raises AttributeError when "user" is a string, a
number, a list or null. Methodology style: a spec presence, replies with "time", argparse, a
`@log` decorator, logging to stderr; one-shot (reply, then close).

Dialect: lesson 3 (spec). A presence with a non-empty user.account_name (any name) gets
{"response": 200, "time": ..., "alert": "Привет, NAME"}; a presence without one gets 400; other
actions 400; broken JSON, an empty read and invalid UTF-8 are caught (the connection is
closed). "user": "Guest" (or 42, [], null): AttributeError, traceback, exit status 1.

Expected verdicts (see manifest.json): lesson3 profile, exit 1: the "user" not an object case
fails (died), the "user" = {} case passes (400), lesson3/presence passes.

Run: python3 lesson3_user_not_object.py -p PORT [-a ADDR]
"""

import argparse
import json
import logging
import socket
import sys
import time
from functools import wraps

ACTION = 'action'
TIME = 'time'
USER = 'user'
ACCOUNT_NAME = 'account_name'
PRESENCE = 'presence'
RESPONSE = 'response'
ALERT = 'alert'
ERROR = 'error'
MAX_PACKAGE_LENGTH = 640
ENCODING = 'utf-8'

logger = logging.getLogger('server')
logging.basicConfig(stream=sys.stderr, level=logging.INFO, format='%(levelname)s %(message)s')


def log(func):
    """Декоратор логирования вызовов."""
    @wraps(func)
    def wrapper(*args, **kwargs):
        logger.info(f'{func.__name__} вызвана из {sys._getframe(1).f_code.co_name}')
        return func(*args, **kwargs)
    return wrapper


@log
def process_client_message(message):
    name = message.get(USER, {}).get(ACCOUNT_NAME)
    if message.get(ACTION) == PRESENCE and name:
        return {RESPONSE: 200, TIME: time.time(), ALERT: f'Привет, {name}'}
    return {RESPONSE: 400, TIME: time.time(), ERROR: 'Некорректный запрос'}


def main():
    parser = argparse.ArgumentParser(description='Сервер урока 3')
    parser.add_argument('-p', type=int, default=7777, help='порт')
    parser.add_argument('-a', default='', help='адрес')
    args = parser.parse_args()

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.a, args.p))
    server.listen(5)
    logger.info(f'Сервер слушает {args.a or "*"}:{args.p}')

    while True:
        client, addr = server.accept()
        client.settimeout(5)
        try:
            message = json.loads(client.recv(MAX_PACKAGE_LENGTH).decode(ENCODING))
        except (ValueError, OSError):
            logger.error(f'Некорректное сообщение от {addr}')
            client.close()
            continue
        if not isinstance(message, dict):
            client.close()
            continue
        response = process_client_message(message)
        client.send(json.dumps(response).encode(ENCODING))
        client.close()


if __name__ == '__main__':
    main()
