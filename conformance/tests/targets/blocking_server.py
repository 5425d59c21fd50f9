"""Spec server with a blocking recv() in the accept path: one silent client stalls everybody.

Models: jim-protocol.md §6 "Blocking `recv` inside the accept path: one silent client stalls
every other client"; PROTOCOL.md §robustness cases "second client while the first stalls" and
"connect and close at once".

Dialect: spec. Functionally correct when every client sends its presence right after
connecting: presence, msg to users and #rooms, join/leave, contacts, quit.

The defect: after accept() the server immediately does a blocking recv(1024) for the
presence, before going back to select(). A client that connects and sends nothing (or half a
presence) freezes the whole server: nobody else is answered and nobody new is accepted until
that client sends or disconnects.

Expected verdicts: spec profile, whole delivery: functional cases pass; "second client while
the first stalls" and "slow-loris" fail with a timeout on the second client; split delivery of
the presence also fails (the first piece is taken for the whole presence: 400).

Run: python3 blocking_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import select
import socket
import time


def reply(code, text=""):
    key = "alert" if code < 400 else "error"
    return {"response": code, "time": time.time(), key: text}


def send(sock, message):
    try:
        sock.sendall(json.dumps(message).encode("utf-8") + b"\n")
    except OSError:
        pass


class Chat:
    def __init__(self):
        self.name_of = {}     # socket -> account name
        self.sock_of = {}     # account name -> socket
        self.rooms = {}       # "#room" -> set of sockets
        self.seen = set()     # every name that logged in
        self.contacts = {}    # account name -> set of names

    def drop(self, sock):
        name = self.name_of.pop(sock, None)
        if name is not None and self.sock_of.get(name) is sock:
            del self.sock_of[name]
        for members in self.rooms.values():
            members.discard(sock)
        self.rooms = {room: members for room, members in self.rooms.items() if members}

    def handle(self, sock, msg):
        """Process one request; returns False when the client quits."""
        if not isinstance(msg, dict):
            send(sock, reply(400, "a JSON object is expected"))
            return True
        if "response" in msg:
            return True
        action = msg.get("action")
        if action == "quit":
            return False
        handlers = {"presence": self.presence, "msg": self.msg, "join": self.join,
                    "leave": self.leave, "get_contacts": self.get_contacts,
                    "add_contact": self.add_contact, "del_contact": self.del_contact}
        handler = handlers.get(action)
        if handler is None:
            send(sock, reply(400, f"unknown action {action!r}"))
        elif action != "presence" and sock not in self.name_of:
            send(sock, reply(401, "send presence first"))
        else:
            handler(sock, msg)
        return True

    def presence(self, sock, msg):
        user = msg.get("user")
        name = user.get("account_name") if isinstance(user, dict) else None
        if not isinstance(name, str) or not 0 < len(name) <= 25 or name.startswith("#"):
            send(sock, reply(400, "presence needs user.account_name (1-25 characters)"))
        elif self.name_of.get(sock, name) != name:
            send(sock, reply(400, "name already set"))
        elif self.sock_of.get(name, sock) is not sock:
            send(sock, reply(409, f"{name} is already connected"))
        else:
            self.name_of[sock] = name
            self.sock_of[name] = sock
            self.seen.add(name)
            send(sock, reply(200, "OK"))

    def msg(self, sock, msg):
        to, text = msg.get("to"), msg.get("message")
        if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
            send(sock, reply(400, "msg needs 'to' and 'message' (at most 500 characters)"))
            return
        relay = {"action": "msg", "time": time.time(), "to": to,
                 "from": self.name_of[sock], "message": text}
        if to.startswith("#"):
            if not valid_room(to):
                send(sock, reply(400, "bad room name"))
            elif to not in self.rooms:
                send(sock, reply(404, "no such room"))
            elif sock not in self.rooms[to]:
                send(sock, reply(403, "you are not in this room"))
            else:
                for member in self.rooms[to]:
                    if member is not sock:
                        send(member, relay)
                send(sock, reply(200, "OK"))
        elif to in self.sock_of:
            send(self.sock_of[to], relay)
            send(sock, reply(200, "OK"))
        else:
            send(sock, reply(404, f"{to} is not online"))

    def join(self, sock, msg):
        room = msg.get("room")
        if not valid_room(room):
            send(sock, reply(400, "bad room name"))
            return
        self.rooms.setdefault(room, set()).add(sock)
        send(sock, reply(200, "OK"))

    def leave(self, sock, msg):
        room = msg.get("room")
        if not valid_room(room):
            send(sock, reply(400, "bad room name"))
        elif sock not in self.rooms.get(room, ()):
            send(sock, reply(404, "you are not in this room"))
        else:
            self.rooms[room].discard(sock)
            if not self.rooms[room]:
                del self.rooms[room]
            send(sock, reply(200, "OK"))

    def get_contacts(self, sock, msg):
        names = sorted(self.contacts.get(self.name_of[sock], ()))
        send(sock, {"response": 202, "time": time.time(), "alert": names})

    def add_contact(self, sock, msg):
        who = msg.get("user_id")
        if not isinstance(who, str) or not 0 < len(who) <= 25:
            send(sock, reply(400, "add_contact needs user_id"))
        elif who not in self.seen:
            send(sock, reply(404, f"unknown user {who}"))
        else:
            self.contacts.setdefault(self.name_of[sock], set()).add(who)
            send(sock, reply(200, "OK"))

    def del_contact(self, sock, msg):
        who = msg.get("user_id")
        mine = self.contacts.get(self.name_of[sock], set())
        if not isinstance(who, str) or not 0 < len(who) <= 25:
            send(sock, reply(400, "del_contact needs user_id"))
        elif who not in mine:
            send(sock, reply(404, f"{who} is not in your contacts"))
        else:
            mine.discard(who)
            send(sock, reply(200, "OK"))


def valid_room(room):
    return isinstance(room, str) and room.startswith("#") and 2 <= len(room) <= 25


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", "--port", type=int, default=7777)
    parser.add_argument("-a", "--addr", default="127.0.0.1")
    return parser.parse_args()


def listen(args):
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    return socket.create_server((args.addr, args.port), family=family)


def main():
    args = parse_args()
    listener = listen(args)
    chat = Chat()
    clients = []
    while True:
        readable, _, _ = select.select([listener] + clients, [], [], 1.0)
        for sock in readable:
            if sock is listener:
                client, _ = listener.accept()
                try:
                    data = client.recv(1024)        # blocks until this client speaks
                except OSError:
                    data = b""
                if not data:
                    client.close()
                    continue
                clients.append(client)
            else:
                try:
                    data = sock.recv(1024)
                except OSError:
                    data = b""
                if not data:
                    chat.drop(sock)
                    clients.remove(sock)
                    sock.close()
                    continue
                client = sock
            try:
                msg = json.loads(data.decode("utf-8"))
            except ValueError:
                send(client, reply(400, "bad JSON"))
                continue
            if not chat.handle(client, msg):
                chat.drop(client)
                clients.remove(client)
                client.close()


if __name__ == "__main__":
    main()
