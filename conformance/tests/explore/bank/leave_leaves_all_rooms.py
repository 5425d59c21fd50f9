#!/usr/bin/env python3
"""Room bookkeeping with two rooms: leave takes the client out of every room it is in.

on_leave was written by copying the room loop of disconnect(): after leaving one room the
client is in no room at all, so its messages to the other room are refused with 403/404 and
it no longer receives that room's messages (PROTOCOL.md §rooms: leave ends the membership of
the room named, and only that one).

A copy of examples/python/server.py (spec dialect, select loop) with this one defect.
Run: python3 leave_leaves_all_rooms.py -p PORT
"""

import argparse
import collections
import json
import re
import select
import socket
import sys
import time

MAX_MESSAGE_BYTES = 64 * 1024   # input buffer limit without a complete value
MAX_OUTBOX_BYTES = 1024 * 1024  # a client that lets more pile up is dropped
MAX_NAME = 25                   # account and room names (room name counts the '#')
MAX_TEXT = 500                  # message text


# --------------------------------------------------------------------------
# Framing: cut a byte stream into JSON values
# --------------------------------------------------------------------------

_SPACE = re.compile(rb"[ \t\r\n]*")
_OUTSIDE = re.compile(rb'[\[\]{}"]')      # interesting bytes outside strings
_INSIDE = re.compile(rb'["\\]')           # interesting bytes inside a string
_TOKEN_END = re.compile(rb'[ \t\r\n\[{"]')  # where a bare token (123, true, junk) ends


def value_end(buf, start):
    """Return the index just past the value that starts at buf[start],
    or -1 if the value is not complete yet.

    Objects and arrays end at their matching bracket (brackets inside strings
    do not count), a string ends at its closing quote, anything else ends
    before the next whitespace, '{', '[' or '"'. Working on bytes is safe:
    these characters are ASCII and never occur inside a UTF-8 sequence.
    """
    if buf[start:start + 1] not in (b"{", b"[", b'"'):
        match = _TOKEN_END.search(buf, start)
        return match.start() if match else -1
    depth = 0
    in_string = False
    pos = start
    while True:
        match = (_INSIDE if in_string else _OUTSIDE).search(buf, pos)
        if match is None:
            return -1
        char = buf[match.start():match.end()]
        pos = match.end()
        if in_string:
            if char == b"\\":
                pos += 1              # skip the escaped character
                continue
            in_string = False
            if depth == 0:            # a top-level string ends here
                return pos
        elif char == b'"':
            in_string = True
        elif char in (b"{", b"["):
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                return pos


class StreamDecoder:
    """Feed it bytes, get back (value, error) pairs: exactly one of them is None."""

    def __init__(self, limit=MAX_MESSAGE_BYTES):
        self.buffer = bytearray()
        self.limit = limit
        self.oversize = False       # set once the buffer passed the limit
        self._json = json.JSONDecoder()

    def feed(self, data):
        self.buffer += data
        items = []
        while True:
            start = _SPACE.match(self.buffer).end()
            if start == len(self.buffer):
                self.buffer.clear()
                break
            end = value_end(self.buffer, start)
            if end < 0 or end - start > self.limit:
                del self.buffer[:start]     # keep the incomplete tail
                if len(self.buffer) > self.limit:
                    self.oversize = True
                    self.buffer.clear()
                break
            chunk = bytes(self.buffer[start:end])
            del self.buffer[:end]           # resync: continue after this value
            items.append(self._parse(chunk))
        return items

    def _parse(self, chunk):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return None, "invalid UTF-8 (see §encoding)"
        try:
            value, end = self._json.raw_decode(text)
        except json.JSONDecodeError as err:
            return None, f"invalid JSON: {err.msg} at character {err.pos} (see §framing)"
        except RecursionError:
            return None, "invalid JSON: nested too deeply (see §framing)"
        if end != len(text):
            return None, f"invalid JSON: extra data at character {end} (see §framing)"
        return value, None

    def finish(self):
        """Called at end of stream: a bare token left in the buffer is complete now.

        Returns a list with at most one item; a truncated object is dropped silently.
        """
        rest = bytes(self.buffer).strip()
        self.buffer.clear()
        if not rest or rest[:1] in (b"{", b"[", b'"'):
            return []
        return [self._parse(rest)]


def encode(message):
    """Compact JSON followed by a newline: one message, one write.

    json.dumps escapes non-ASCII characters as \\uXXXX, so the bytes are pure ASCII.
    """
    return json.dumps(message, separators=(",", ":")).encode("ascii") + b"\n"


def valid_room(room):
    return isinstance(room, str) and room.startswith("#") and 2 <= len(room) <= MAX_NAME


def reply(code, text):
    key = "alert" if code < 400 else "error"
    return {"response": code, "time": time.time(), key: text}


# --------------------------------------------------------------------------
# Chat logic: knows nothing about sockets, only calls client.send(message)
# --------------------------------------------------------------------------

class Chat:
    def __init__(self):
        self.online = {}     # account name -> client object
        self.known = set()   # every name that sent a presence during this run
        self.rooms = {}      # "#room" -> set of client objects
        self.contacts = {}   # account name -> list of contact names
        self.handlers = {
            "presence": self.on_presence,
            "msg": self.on_msg,
            "join": self.on_join,
            "leave": self.on_leave,
            "get_contacts": self.on_get_contacts,
            "add_contact": self.on_add_contact,
            "del_contact": self.on_del_contact,
        }

    def handle(self, client, message):
        """Process one decoded value. Returns False if the client must be closed."""
        if not isinstance(message, dict):
            client.send(reply(400, "not a JSON object (see §framing)"))
            return True
        if "response" in message:
            return True                     # a stray response from a client: ignore it
        action = message.get("action")
        if not isinstance(action, str) or not action:
            client.send(reply(400, "missing field action (see §dialects)"))
            return True
        if action in ("quit", "exit", "Exit"):
            return False                    # no reply, the caller closes
        handler = self.handlers.get(action)
        if handler is None:
            client.send(reply(400, f"unknown action {action[:15]!r} (see §dialects)"))
        elif client.name is None and action != "presence":
            client.send(reply(401, "send presence first (see §presence)"))
        else:
            handler(client, message)
        return True

    def disconnect(self, client):
        """Forget everything about a client that went away."""
        if client.name is not None and self.online.get(client.name) is client:
            del self.online[client.name]
        for room in client.rooms:
            members = self.rooms.get(room)
            if members is not None:
                members.discard(client)
                if not members:
                    del self.rooms[room]
        client.rooms.clear()

    def on_presence(self, client, message):
        user = message.get("user")
        name = user.get("account_name") if isinstance(user, dict) else None
        if not isinstance(name, str) or not name:
            client.send(reply(400, "missing field user.account_name (see §presence)"))
        elif len(name) > MAX_NAME or name.startswith("#"):
            client.send(reply(400, f"bad account_name: at most {MAX_NAME} characters, "
                                   "not starting with '#' (see §limits)"))
        elif client.name is not None and client.name != name:
            client.send(reply(400, f"name already set to {client.name!r} (see §presence)"))
        elif self.online.get(name, client) is not client:
            client.send(reply(409, f"user {name!r} is already connected (see §presence)"))
        else:
            client.name = name
            self.online[name] = client
            self.known.add(name)
            client.send(reply(200, f"welcome, {name}"))

    def on_msg(self, client, message):
        to, text = message.get("to"), message.get("message")
        if not isinstance(to, str) or not to:
            client.send(reply(400, "missing field to (see §msg)"))
            return
        if not isinstance(text, str):
            client.send(reply(400, "missing field message (see §msg)"))
            return
        if len(text) > MAX_TEXT:
            client.send(reply(400, f"message longer than {MAX_TEXT} characters (see §limits)"))
            return
        relay = {"action": "msg", "time": time.time(), "to": to, "from": client.name}
        if isinstance(message.get("encoding"), str):
            relay["encoding"] = message["encoding"]
        relay["message"] = text
        if to.startswith("#"):
            if not valid_room(to):
                client.send(reply(400, f"bad room name {to!r}: '#' followed by a name, at most "
                                       f"{MAX_NAME} characters (see §rooms)"))
                return
            members = self.rooms.get(to)
            if not members:
                client.send(reply(404, f"no such room {to!r} (see §rooms)"))
                return
            if client not in members:
                client.send(reply(403, f"you are not a member of {to!r} (see §rooms)"))
                return
            for member in members:
                if member is not client:
                    member.send(relay)
        else:
            target = self.online.get(to)
            if target is None:
                client.send(reply(404, f"user {to!r} is not connected (see §msg)"))
                return
            target.send(relay)
        client.send(reply(200, "delivered"))

    def _room_name(self, client, message):
        room = message.get("room")
        if valid_room(room):
            return room
        client.send(reply(400, f"field room must be '#name', at most {MAX_NAME} "
                               "characters (see §rooms)"))
        return None

    def on_join(self, client, message):
        room = self._room_name(client, message)
        if room is not None:
            self.rooms.setdefault(room, set()).add(client)
            client.rooms.add(room)
            client.send(reply(200, f"joined {room}"))

    def on_leave(self, client, message):
        room = self._room_name(client, message)
        if room is None:
            return
        if room not in client.rooms:
            client.send(reply(404, f"you are not a member of {room!r} (see §rooms)"))
            return
        for joined in client.rooms:             # take the client out of its rooms
            members = self.rooms[joined]
            members.discard(client)
            if not members:
                del self.rooms[joined]
        client.rooms.clear()
        client.send(reply(200, f"left {room}"))

    def on_get_contacts(self, client, message):
        names = sorted(self.contacts.get(client.name, []))
        client.send({"response": 202, "time": time.time(), "alert": names})

    def _contact_name(self, client, message):
        contact = message.get("user_id")
        if isinstance(contact, str) and 0 < len(contact) <= MAX_NAME:
            return contact
        client.send(reply(400, f"field user_id must be a name of 1 to {MAX_NAME} characters "
                               "(see §contacts)"))
        return None

    def on_add_contact(self, client, message):
        contact = self._contact_name(client, message)
        if contact is None:
            return
        if contact not in self.known:
            client.send(reply(404, f"unknown user {contact!r} (see §contacts)"))
            return
        names = self.contacts.setdefault(client.name, [])
        if contact not in names:
            names.append(contact)
        client.send(reply(200, f"{contact} added"))

    def on_del_contact(self, client, message):
        contact = self._contact_name(client, message)
        if contact is None:
            return
        names = self.contacts.get(client.name, [])
        if contact not in names:
            client.send(reply(404, f"{contact!r} is not in your contacts (see §contacts)"))
            return
        names.remove(contact)
        client.send(reply(200, f"{contact} removed"))


# --------------------------------------------------------------------------
# The select() loop
# --------------------------------------------------------------------------

class Client:
    def __init__(self, sock, address):
        self.sock = sock
        self.address = address
        self.decoder = StreamDecoder()
        self.outbox = collections.deque()   # encoded messages waiting to be sent
        self.outbox_bytes = 0
        self.closing = False                # close as soon as the outbox is empty
        self.close_deadline = None          # ... or at this time, whatever happens
        self.name = None
        self.rooms = set()

    def send(self, message):
        data = encode(message)
        self.outbox.append(data)
        self.outbox_bytes += len(data)

    def flush(self):
        """Write what the socket accepts now. Returns False if the socket failed."""
        while self.outbox:
            head = self.outbox[0]
            try:
                sent = self.sock.send(head)     # one message per send() call
            except (BlockingIOError, InterruptedError):
                return True
            except OSError:
                return False
            self.outbox_bytes -= sent
            if sent < len(head):
                self.outbox[0] = head[sent:]
                return True
            self.outbox.popleft()
        return True


class Server:
    def __init__(self, listener):
        self.listener = listener
        self.clients = {}       # socket -> Client
        self.chat = Chat()

    def run(self):
        while True:
            readers = [self.listener]
            readers += [s for s, c in self.clients.items() if not c.closing]
            writers = [s for s, c in self.clients.items() if c.outbox]
            readable, writable, _ = select.select(readers, writers, [], 1.0)
            for sock in readable:
                if sock is self.listener:
                    self.accept()
                elif sock in self.clients:
                    self.read(self.clients[sock])
            for sock in writable:
                client = self.clients.get(sock)
                if client is not None and not client.flush():
                    self.drop(client)
            for client in list(self.clients.values()):
                if client.outbox_bytes > MAX_OUTBOX_BYTES:
                    self.drop(client)           # it does not read: do not wait for it
                elif client.closing and (not client.outbox
                                         or time.monotonic() > client.close_deadline):
                    self.drop(client)

    def accept(self):
        while True:
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:              # e.g. too many open files
                print(f"accept failed: {err}", file=sys.stderr)
                return
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.clients[sock] = Client(sock, address)

    def read(self, client):
        try:
            data = client.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            # The peer closed (or half-closed) its side: answer what is complete, then close.
            for _, error in client.decoder.finish():
                if error is not None:
                    client.send(reply(400, error))
            self.close_later(client)
            return
        for value, error in client.decoder.feed(data):
            if error is not None:
                client.send(reply(400, error))
            elif not self.chat.handle(client, value):
                self.close_later(client)        # quit: no reply, ignore the rest
                return
        if client.decoder.oversize:
            client.send(reply(400, f"message larger than {MAX_MESSAGE_BYTES} bytes "
                                   "(see §limits)"))
            self.close_later(client)

    def close_later(self, client):
        """End the session now; close the socket once queued replies are written."""
        self.chat.disconnect(client)
        client.closing = True
        client.close_deadline = time.monotonic() + 10

    def drop(self, client):
        self.clients.pop(client.sock, None)
        self.chat.disconnect(client)
        client.outbox.clear()
        client.outbox_bytes = 0
        client.sock.close()


def main():
    parser = argparse.ArgumentParser(description="JIM server (spec dialect, select loop)")
    parser.add_argument("-p", "--port", type=int, default=7777, help="TCP port (default 7777)")
    parser.add_argument("-a", "--addr", default="", help="address to listen on (default: all)")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error("port must be between 0 and 65535")

    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    try:
        listener = socket.create_server((args.addr, args.port), family=family, backlog=128)
    except OSError as err:
        print(f"cannot listen on {args.addr}:{args.port}: {err}", file=sys.stderr)
        return 1
    listener.setblocking(False)
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    try:
        Server(listener).run()
    except KeyboardInterrupt:
        pass
    finally:
        listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
