"""Lesson-3 client that sends valid JSON but names the user with user.client_name.

Models: jim-protocol.md §5 ("user: user.account_name (most), user.client_name ..."); issue 13,
item 6 ("a client that sends user.client_name gets a generic str(dict) hint instead of 'the key
is account_name'"). The methodology's lesson-3 client with argparse, json.dumps, one recv(1024)
whose first JSON value is taken with raw_decode, and a clean exit status: only the key name is
wrong.

Dialect: lesson 3 (spec presence: type, user.status). Prints "Ответ сервера: CODE" and exits 0
on a 2xx, 1 otherwise.

Expected verdicts (see manifest.json): exit 1: client/common/presence fails with a hint keyed by
what was observed, "the key is user.account_name, not user.client_name" (not a str(dict) or
generic "missing field" hint); no other root cause.

Run: python3 client_client_name.py ADDR [PORT] [-n NAME]
"""

import argparse
import json
import socket
import sys
import time


def main():
    parser = argparse.ArgumentParser(description='Клиент урока 3')
    parser.add_argument('addr', nargs='?', default='127.0.0.1')
    parser.add_argument('port', nargs='?', type=int, default=7777)
    parser.add_argument('-n', '--name', default='Guest')
    args = parser.parse_args()

    presence = {
        'action': 'presence',
        'time': time.time(),
        'type': 'status',
        'user': {'client_name': args.name, 'status': 'online'},
    }
    with socket.create_connection((args.addr, args.port), timeout=10) as sock:
        sock.sendall(json.dumps(presence).encode('utf-8'))
        try:
            # raw_decode: берём первый JSON-объект, даже если TCP склеил его со следующим
            answer, _ = json.JSONDecoder().raw_decode(sock.recv(1024).decode('utf-8').lstrip())
        except (ValueError, OSError) as err:
            print(f'Ошибка чтения ответа: {err}')
            sys.exit(1)
    code = answer.get('response') if isinstance(answer, dict) else None
    print(f'Ответ сервера: {code} {answer.get("alert") or answer.get("error") or ""}')
    sys.exit(0 if isinstance(code, int) and 200 <= code < 300 else 1)


if __name__ == '__main__':
    main()
