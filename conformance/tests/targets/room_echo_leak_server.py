"""Spec server that leaks direct messages to everybody.

Models: PROTOCOL.md §msg ("relay to that connection only") and jim-protocol.md §2a (msg `to`
names one account): a common student shortcut broadcasts every message to all clients.

Dialect: spec. Stream-safe and otherwise correct: presence, 404 for unknown users, rooms
(join/leave, fan-out to other members, 403/404), contacts, quit, 400 for bad input.

The defect: a msg to a user who is online is sent to every logged-in client except the sender,
not only to the addressee. The addressee and the sender see the right thing (relay, then 200).

Expected verdicts: spec profile: fails the direct-message privacy case (a third client receives
a relay addressed to someone else; an expect_silence step fails). Everything else passes,
including split and coalesced delivery.

Run: python3 room_echo_leak_server.py -p PORT [-a ADDR]
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


class JsonSplitter:
    """Cuts a byte stream into top-level JSON texts by counting brackets outside strings.

    Text between values that is not whitespace comes back as a junk chunk (it ends before the
    next '{' or '[', or at a newline), so the caller can answer it with 400.
    """

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.junk = False

    def feed(self, data):
        self.buf += data
        chunks = []
        while self.pos < len(self.buf):
            ch = self.buf[self.pos]
            self.pos += 1
            if self.junk:
                if ch in b"{[\n":
                    end = self.pos if ch == ord("\n") else self.pos - 1
                    chunks.append(bytes(self.buf[:end]))
                    del self.buf[:end]
                    self.pos, self.junk = 0, False
            elif self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == ord("\\"):
                    self.escaped = True
                elif ch == ord('"'):
                    self.in_string = False
            elif self.depth == 0 and ch in b" \t\r\n":
                del self.buf[:self.pos]
                self.pos = 0
            elif self.depth == 0 and ch not in b"{[":
                self.junk = True
            elif ch == ord('"'):
                self.in_string = True
            elif ch in b"{[":
                self.depth += 1
            elif ch in b"}]":
                self.depth -= 1
                if self.depth == 0:
                    chunks.append(bytes(self.buf[:self.pos]))
                    del self.buf[:self.pos]
                    self.pos = 0
        return chunks


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
            for other in self.sock_of.values():      # everybody, not just self.sock_of[to]
                if other is not sock:
                    send(other, relay)
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
    splitters = {}      # client socket -> JsonSplitter
    while True:
        readable, _, _ = select.select([listener, *splitters], [], [], 1.0)
        for sock in readable:
            if sock is listener:
                client, _ = listener.accept()
                splitters[client] = JsonSplitter()
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            keep = bool(data)
            for chunk in splitters[sock].feed(data) if data else []:
                try:
                    msg = json.loads(chunk.decode("utf-8"))
                except ValueError:
                    send(sock, reply(400, "bad JSON"))
                    continue
                if not chat.handle(sock, msg):
                    keep = False
                    break
            if keep and len(splitters[sock].buf) > 65536:
                send(sock, reply(400, "message too long"))
                keep = False
            if not keep:
                chat.drop(sock)
                del splitters[sock]
                sock.close()


if __name__ == "__main__":
    main()
