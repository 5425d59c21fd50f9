"""Spec server whose only serving thread dies when the first logged-in client disconnects.

Models: jim-protocol.md §6 "After the first client disconnects, `json.loads(b"")` kills the
serving thread while the socket stays open: connections are accepted and never answered (a
zombie)"; PROTOCOL.md §robustness case "first client leaves".

Dialect: spec. Until then it is correct for messages delivered whole: presence, msg to users
and #rooms, join/leave, contacts, quit.

The defect: the main thread only accepts and appends sockets to a shared list; one worker
thread selects on that list. The login step was copied from lesson 3 and is careful (try/except
around recv + json.loads; a bad or empty first read closes that socket), but the chat loop for
logged-in clients does json.loads(sock.recv(1024).decode()) with no check for an empty read
and no try/except. When a logged-in client disconnects without quit (or sends malformed JSON),
the worker raises and dies with a traceback on stderr. The process and the listening socket
stay alive: new connections are accepted and never answered. A connect-and-close before any
presence (a port probe) is handled by the careful login step and does not trigger the bug; a
quit is handled properly too.

Expected verdicts: "first client leaves" fails with a timeout (B's connection is accepted, its
presence never answered); so does every later case unless the runner restarts the target.
Before that, whole-delivery functional cases pass, and "connect and close at once" passes.

Run: python3 zombie_after_disconnect.py -p PORT [-a ADDR]
"""

import argparse
import json
import select
import socket
import time
import threading


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


clients = []
clients_lock = threading.Lock()


def login(chat, sock):
    """The lesson-3 part: careful. Returns False if the socket was closed."""
    try:
        msg = json.loads(sock.recv(1024).decode("utf-8"))
    except (ValueError, OSError):
        sock.close()
        return False
    if chat.handle(sock, msg):
        return True
    sock.close()
    return False


def worker(chat):
    while True:
        with clients_lock:
            watched = list(clients)
        if not watched:
            time.sleep(0.05)
            continue
        readable, _, _ = select.select(watched, [], [], 0.2)
        for sock in readable:
            if sock not in chat.name_of:
                if not login(chat, sock):
                    chat.drop(sock)
                    with clients_lock:
                        clients.remove(sock)
                continue
            # The chat part: no check for b"" after a disconnect, no try/except.
            msg = json.loads(sock.recv(1024).decode("utf-8"))
            if not chat.handle(sock, msg):
                chat.drop(sock)
                with clients_lock:
                    clients.remove(sock)
                sock.close()


def main():
    args = parse_args()
    listener = listen(args)
    threading.Thread(target=worker, args=(Chat(),), daemon=True).start()
    while True:
        client, _ = listener.accept()
        with clients_lock:
            clients.append(client)


if __name__ == "__main__":
    main()
