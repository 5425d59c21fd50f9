"""Lesson-3 client that sends str(dict) instead of JSON, with user.client_name instead of account_name.

Models: jim-protocol.md §5 ("user.client_name"); issue 13, items 6 and 10 ("a client that sends
str(dict) got 6 FAILs, some with hints for other causes"; "a client that sends user.client_name
gets a generic str(dict) hint instead of 'the key is account_name'"). Two defects that come
together in this style: the student built the message by hand from the lecture slide
("client_name") and sent it with str(...).encode().

Dialect: lesson 3. Sends {'action': 'presence', 'time': ..., 'type': 'status',
'user': {'client_name': NAME, 'status': 'Yep, I am here!'}} as Python's repr (single quotes),
reads one reply with recv(640), prints it and exits 0 whatever it is (a reply it cannot parse
is printed raw).

Expected verdicts (see manifest.json): exit 1 with ONE root cause: "sends Python str(dict), not
JSON: use json.dumps" (client/common/presence fails); the other cases that depend on the
presence are folded under it, not reported with hints for other causes; the report also names
the second problem it can see in the repr, the key user.client_name (must be account_name).

Run: python3 client_str_dict_client_name.py ADDR [PORT] [-n NAME]
"""

import socket
import sys
import time


def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else 'localhost'
    port = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 7777
    name = sys.argv[sys.argv.index('-n') + 1] if '-n' in sys.argv else 'Guest'

    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.connect((addr, port))
    msg = {
        'action': 'presence',
        'time': time.time(),
        'type': 'status',
        'user': {
            'client_name': name,
            'status': 'Yep, I am here!'
        }
    }
    s.send(str(msg).encode('utf-8'))
    data = s.recv(640)
    print('Сообщение от сервера: ', data.decode('utf-8'), ', длиной ', len(data), ' байт')
    s.close()


if __name__ == '__main__':
    main()
