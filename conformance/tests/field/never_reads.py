"""Server that accepts connections and never reads them: select()'s lists are swapped.

Models: issue 13, items 2, 4 and 6 (a server that never reads was credited with auth=present,
got malformed-JSON hints, and a run against it took minutes of timeouts); jim-protocol.md §6
(a zombie: connections accepted, never answered). Written like an early lesson-4 course server:
accept() with a 0.2 s timeout, a list of clients, `select.select(...)` with a zero timeout, a
`get_message`/`send_message` pair.

Dialect: none observable. The defect: the student wrote
`recv_data_lst, send_data_lst, err_lst = select.select([], clients, [], 0)`, swapping the read
and write lists. Every client is writable, none is ever in the read list, so nothing is read and
nothing is answered; the connections stay open (no close, no reset).

Expected verdicts (see manifest.json): spec profile (nothing to auto-detect), exit 1, one root
cause: "accepts connections but never answers". No capability is credited (authenticate/
supported must not pass), no malformed-JSON or KeyError hint, and the run stops early instead of
timing out case after case.

Run: python3 never_reads.py -p PORT [-a ADDR]
"""

import argparse
import json
import select
import socket
import time

ACTION = 'action'
PRESENCE = 'presence'
RESPONSE = 'response'
ERROR = 'error'
MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = 'utf-8'


def get_message(client):
    return json.loads(client.recv(MAX_PACKAGE_LENGTH).decode(ENCODING))


def send_message(client, message):
    client.send(json.dumps(message).encode(ENCODING))


def process_client_message(message):
    if message.get(ACTION) == PRESENCE:
        return {RESPONSE: 200}
    return {RESPONSE: 400, ERROR: 'Bad Request'}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('-p', type=int, default=7777)
    parser.add_argument('-a', default='')
    args = parser.parse_args()

    transport = socket.socket(socket.AF_INET6 if ':' in args.a else socket.AF_INET)
    transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    transport.bind((args.a, args.p))
    transport.listen(MAX_CONNECTIONS)
    transport.settimeout(0.2)

    clients = []
    messages = []
    while True:
        try:
            client, client_address = transport.accept()
        except OSError:
            pass
        else:
            print(f'Установлено соединение с {client_address}')
            clients.append(client)

        recv_data_lst = []
        send_data_lst = []
        try:
            if clients:
                recv_data_lst, send_data_lst, err_lst = select.select([], clients, [], 0)
        except OSError:
            pass

        for client_with_message in recv_data_lst:
            try:
                messages.append((client_with_message, get_message(client_with_message)))
            except (OSError, ValueError):
                clients.remove(client_with_message)
                client_with_message.close()

        for client, message in messages:
            if client in send_data_lst:
                send_message(client, process_client_message(message))
        messages.clear()
        time.sleep(0.01)


if __name__ == '__main__':
    main()
