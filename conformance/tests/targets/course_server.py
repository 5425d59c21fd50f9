"""Course-dialect server, written like the 2020+ course reference solution.

Models: jim-protocol.md §2b (the course dialect) and PROTOCOL.md §dialects: presence,
message (from/to/mess_text) relayed verbatim, exit, get_contacts/add/remove with data_list,
get_users. Accounts (511 login) and rooms are not implemented, as in the course code before
the database lessons. Structure copied from the course: a select() loop with a small timeout,
a non-blocking accept, get_message() = one recv(1024) + json.loads, send_message() =
json.dumps(...).encode() with no newline, and a dict-based process_client_message().
Responses are bare: {"response": 200}, {"response": 400, "error": "..."}, no "time".

Dialect: course.

Expected verdicts:
  * course profile, whole delivery: pass (pass-lenient where the referee tolerates the missing
    "time" in responses). No ack is sent to the sender of a message, and a message to an
    unknown user is dropped silently (logged only), as in the course. Requests that name the
    user (message "from", get_contacts/add/remove "user", exit/get_users "account_name") must
    carry the sender's own name, else 400 "Запрос некорректен.".
  * split / trickle delivery and "two requests in one write" fail: one recv() is taken as one
    message, json.loads fails and the client is disconnected (§framing, §robustness).
  * spec-only checks (rooms, msg/quit spelling) fail or are skipped: not implemented.

Run: python3 course_server.py -p PORT [-a ADDR] [-v]
"""

import argparse
import json
import select
import socket
import sys
import time

ACTION = "action"
TIME = "time"
USER = "user"
ACCOUNT_NAME = "account_name"
SENDER = "from"
DESTINATION = "to"
PRESENCE = "presence"
RESPONSE = "response"
ERROR = "error"
MESSAGE = "message"
MESSAGE_TEXT = "mess_text"
EXIT = "exit"
GET_CONTACTS = "get_contacts"
LIST_INFO = "data_list"
REMOVE_CONTACT = "remove"
ADD_CONTACT = "add"
USERS_REQUEST = "get_users"

MAX_CONNECTIONS = 5
MAX_PACKAGE_LENGTH = 1024
ENCODING = "utf-8"

RESPONSE_200 = {RESPONSE: 200}
RESPONSE_202 = {RESPONSE: 202, LIST_INFO: None}
RESPONSE_400 = {RESPONSE: 400, ERROR: None}


VERBOSE = False


def log(text):
    # The course logs to a file; here the log goes to stderr, only with -v.
    if VERBOSE:
        print(f"{time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def get_message(client):
    encoded_response = client.recv(MAX_PACKAGE_LENGTH)
    if isinstance(encoded_response, bytes):
        json_response = encoded_response.decode(ENCODING)
        response = json.loads(json_response)
        if isinstance(response, dict):
            return response
        raise ValueError("not a dict")
    raise ValueError("not bytes")


def send_message(sock, message):
    js_message = json.dumps(message)
    encoded_message = js_message.encode(ENCODING)
    sock.send(encoded_message)


class Server:
    def __init__(self, listen_address, listen_port):
        self.addr = listen_address
        self.port = listen_port
        self.clients = []
        self.messages = []
        self.names = dict()
        self.users = []          # every user seen (the course keeps them in a database)
        self.contacts = dict()   # user -> list of contacts

    def init_socket(self):
        family = socket.AF_INET6 if ":" in self.addr else socket.AF_INET
        transport = socket.socket(family, socket.SOCK_STREAM)
        transport.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        transport.bind((self.addr, self.port))
        transport.setblocking(False)
        self.sock = transport
        self.sock.listen(MAX_CONNECTIONS)

    def remove_client(self, client):
        for name in list(self.names):
            if self.names[name] == client:
                del self.names[name]
                break
        if client in self.clients:
            self.clients.remove(client)
        client.close()

    def main_loop(self):
        self.init_socket()
        while True:
            try:
                client, client_address = self.sock.accept()
            except OSError:
                pass
            else:
                log(f"connection from {client_address}")
                client.setblocking(True)
                self.clients.append(client)

            recv_data_lst = []
            try:
                if self.clients:
                    recv_data_lst, _, _ = select.select(self.clients, [], [], 0.05)
                else:
                    time.sleep(0.05)
            except OSError:
                pass

            for client_with_message in recv_data_lst:
                try:
                    self.process_client_message(get_message(client_with_message),
                                                client_with_message)
                except (OSError, ValueError, TypeError, KeyError, AttributeError):
                    log("client disconnected")
                    self.remove_client(client_with_message)

            send_data_lst = []
            if self.messages:
                try:
                    _, send_data_lst, _ = select.select([], self.clients, [], 0)
                except OSError:
                    pass
            for message in self.messages:
                try:
                    self.process_message(message, send_data_lst)
                except (ConnectionError, OSError):
                    log(f"lost connection with {message[DESTINATION]}")
                    self.remove_client(self.names[message[DESTINATION]])
            self.messages.clear()

    def process_message(self, message, listen_socks):
        if message[DESTINATION] in self.names and self.names[message[DESTINATION]] in listen_socks:
            send_message(self.names[message[DESTINATION]], message)
            log(f"message from {message[SENDER]} delivered to {message[DESTINATION]}")
        elif message[DESTINATION] in self.names and self.names[message[DESTINATION]] not in listen_socks:
            raise ConnectionError
        else:
            log(f"user {message[DESTINATION]} is not registered, message not delivered")

    def process_client_message(self, message, client):
        if ACTION in message and message[ACTION] == PRESENCE and TIME in message and USER in message:
            name = message[USER][ACCOUNT_NAME]
            if name not in self.names.keys():
                self.names[name] = client
                if name not in self.users:
                    self.users.append(name)
                send_message(client, RESPONSE_200)
            else:
                response = RESPONSE_400
                response[ERROR] = "Имя пользователя уже занято."
                send_message(client, response)
                self.clients.remove(client)
                client.close()
            return
        elif ACTION in message and message[ACTION] == MESSAGE and DESTINATION in message \
                and TIME in message and SENDER in message and MESSAGE_TEXT in message \
                and self.names.get(message[SENDER]) == client:
            self.messages.append(message)
            return
        elif ACTION in message and message[ACTION] == EXIT and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            self.remove_client(client)
            return
        elif ACTION in message and message[ACTION] == GET_CONTACTS and USER in message \
                and self.names.get(message[USER]) == client:
            response = RESPONSE_202
            response[LIST_INFO] = list(self.contacts.get(message[USER], []))
            send_message(client, response)
        elif ACTION in message and message[ACTION] == ADD_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            contacts = self.contacts.setdefault(message[USER], [])
            if message[ACCOUNT_NAME] in self.users and message[ACCOUNT_NAME] not in contacts:
                contacts.append(message[ACCOUNT_NAME])
            send_message(client, RESPONSE_200)
        elif ACTION in message and message[ACTION] == REMOVE_CONTACT and ACCOUNT_NAME in message \
                and USER in message and self.names.get(message[USER]) == client:
            contacts = self.contacts.setdefault(message[USER], [])
            if message[ACCOUNT_NAME] in contacts:
                contacts.remove(message[ACCOUNT_NAME])
            send_message(client, RESPONSE_200)
        elif ACTION in message and message[ACTION] == USERS_REQUEST and ACCOUNT_NAME in message \
                and self.names.get(message[ACCOUNT_NAME]) == client:
            response = RESPONSE_202
            response[LIST_INFO] = list(self.users)
            send_message(client, response)
        else:
            response = RESPONSE_400
            response[ERROR] = "Запрос некорректен."
            send_message(client, response)
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", default=7777, type=int, nargs="?")
    parser.add_argument("-a", default="127.0.0.1", nargs="?")
    parser.add_argument("-v", action="store_true", help="log to stderr")
    namespace = parser.parse_args(sys.argv[1:])
    global VERBOSE
    VERBOSE = namespace.v
    if not 1023 < namespace.p < 65536:
        log(f"bad port {namespace.p}: must be 1024-65535")
        sys.exit(1)
    server = Server(namespace.a, namespace.p)
    server.main_loop()


if __name__ == "__main__":
    main()
