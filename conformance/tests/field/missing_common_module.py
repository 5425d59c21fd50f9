"""Server that cannot start: it imports the student's `common` package, which was not handed in.

Models: issue 13, item 10 ("an unreachable target got 5-70 ERROR blocks each with a lesson hint
instead of one line"); the most common way a submitted course server fails to run: the course
layout splits constants and helpers into common/variables.py and common/utils.py, and only
server.py was submitted. Python prints "ModuleNotFoundError: No module named 'common'" and exits
with status 1 before it listens.

Expected verdicts (see manifest.json): exit 3 (target unreachable), one line that says the
command exited at start (status 1) and shows its last output line (the ModuleNotFoundError);
no case verdicts, no lesson hints. Host mode (nothing listens on the port): exit 3, one line.

Run: python3 missing_common_module.py -p PORT [-a ADDR]
"""

import json
import socket
import sys

from common.variables import ACTION, ACCOUNT_NAME, DEFAULT_PORT, MAX_CONNECTIONS, PRESENCE, \
    RESPONSE, TIME, USER
from common.utils import get_message, send_message


def process_client_message(message):
    if ACTION in message and message[ACTION] == PRESENCE and TIME in message \
            and USER in message and message[USER][ACCOUNT_NAME]:
        return {RESPONSE: 200}
    return {RESPONSE: 400, 'error': 'Bad Request'}


def main():
    listen_port = int(sys.argv[sys.argv.index('-p') + 1]) if '-p' in sys.argv else DEFAULT_PORT
    listen_address = sys.argv[sys.argv.index('-a') + 1] if '-a' in sys.argv else ''
    transport = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    transport.bind((listen_address, listen_port))
    transport.listen(MAX_CONNECTIONS)
    while True:
        client, client_address = transport.accept()
        try:
            send_message(client, process_client_message(get_message(client)))
        except (ValueError, json.JSONDecodeError):
            print('Принято некорректное сообщение от клиента.')
        client.close()


if __name__ == '__main__':
    main()
