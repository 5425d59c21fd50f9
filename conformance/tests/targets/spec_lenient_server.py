"""A spec-dialect server that works, but uses the common variants instead of the canonical forms.

Models: jim-protocol.md §5 (variants a referee must tolerate) and §4.3 (ack habits differ);
PROTOCOL.md §responses ("response reading variants") and §order (what real servers do
differently). It is correct and stream-safe (split, coalesced and byte-by-byte input work), with
these deviations:
  * response codes are numeric strings: {"response": "200"};
  * no "time" in replies;
  * the error/alert text is under "message" instead of "error"/"alert";
  * a delivered direct message is not acknowledged (errors such as 404 still are);
  * rooms work, but a room message is relayed to every member, the sender included, and the
    sender gets no 200 (its own copy is the confirmation);
  * lists come as {"response": "202", "alert": [...]}.
Otherwise it follows the reference semantics: 401 before presence, 409 for a connected name,
400 for bad shapes, bad JSON and unknown actions (the connection is kept), quit closes.

Dialect: spec.

Expected verdicts: spec profile, whole and split/trickle delivery: pass-lenient (every difference
above is a tolerance); strict profile: fail (codes as strings, no time, text key, missing acks,
echo to the sender).

Architecture: a thread per client; one lock guards the shared state; every client has an
outgoing queue drained by its own writer thread, so a client that does not read only fills
its own queue.

Run: python3 spec_lenient_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import queue
import socket
import threading

MAX_BUFFER = 65536
MAX_QUEUE = 2000    # messages waiting for one client; more and it is disconnected


class JsonSplitter:
    """Cuts a byte stream into top-level JSON texts, one byte at a time.

    Tracks bracket depth and strings; text between values that is not whitespace is returned
    as a junk chunk (ending before the next '{' or '[' or at a newline) so it can be answered.
    """

    def __init__(self):
        self.buf = bytearray()
        self.pos = 0          # how far self.buf has been scanned
        self.depth = 0
        self.in_string = False
        self.escaped = False
        self.junk = False     # scanning text outside any value

    def feed(self, data):
        self.buf += data
        chunks = []
        while self.pos < len(self.buf):
            ch = self.buf[self.pos]
            self.pos += 1
            if self.junk:
                if ch in b"{[\n":
                    end = self.pos - 1 if ch != ord("\n") else self.pos
                    chunks.append(bytes(self.buf[:end]))
                    del self.buf[:end]
                    self.pos = 0
                    self.junk = False
                continue
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif ch == ord("\\"):
                    self.escaped = True
                elif ch == ord('"'):
                    self.in_string = False
                continue
            if self.depth == 0:
                if ch in b" \t\r\n":
                    del self.buf[:self.pos]
                    self.pos = 0
                    continue
                if ch not in b"{[":
                    self.junk = True
                    continue
            if ch == ord('"'):
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

    def too_big(self):
        return len(self.buf) > MAX_BUFFER


def answer(code, text=None):
    reply = {"response": str(code)}
    if text is not None:
        reply["message"] = text
    return reply


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.name = None
        self.rooms = set()
        self.outgoing = queue.Queue()
        self.alive = True

    def send(self, message):
        if not self.alive:
            return
        if self.outgoing.qsize() > MAX_QUEUE:
            self.kill()
            return
        self.outgoing.put(json.dumps(message).encode() + b"\n")

    def kill(self):
        if self.alive:
            self.alive = False
            self.outgoing.put(None)
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def writer(self):
        while True:
            data = self.outgoing.get()
            if data is None:
                break
            try:
                self.sock.sendall(data)
            except OSError:
                self.kill()
                break
        self.sock.close()


class Chat:
    def __init__(self):
        self.lock = threading.Lock()
        self.peers = {}        # name -> Peer
        self.rooms = {}        # "#room" -> set of Peer
        self.ever = set()
        self.contacts = {}

    def serve(self, sock):
        peer = Peer(sock)
        threading.Thread(target=peer.writer, daemon=True).start()
        splitter = JsonSplitter()
        try:
            while peer.alive:
                data = sock.recv(4096)
                if not data:
                    break
                for chunk in splitter.feed(data):
                    try:
                        message = json.loads(chunk.decode("utf-8"))
                    except (ValueError, RecursionError):   # also bad UTF-8
                        peer.send(answer(400, "bad JSON"))
                        continue
                    with self.lock:
                        keep = self.handle(peer, message)
                    if not keep:
                        return
                if splitter.too_big():
                    peer.send(answer(400, "message too long"))
                    return
        except OSError:
            pass
        finally:
            with self.lock:
                self.forget(peer)
            peer.outgoing.put(None)     # the writer sends what is queued, then closes

    def forget(self, peer):
        if peer.name and self.peers.get(peer.name) is peer:
            del self.peers[peer.name]
        for room in peer.rooms:
            self.rooms.get(room, set()).discard(peer)
            if not self.rooms.get(room):
                self.rooms.pop(room, None)
        peer.rooms.clear()

    def handle(self, peer, m):
        if not isinstance(m, dict):
            peer.send(answer(400, "JSON object expected"))
            return True
        if "response" in m:
            return True
        action = m.get("action")
        if action == "quit":
            return False
        known = ("presence", "msg", "join", "leave", "get_contacts", "add_contact", "del_contact")
        if action not in known:
            peer.send(answer(400, f"unknown action: {action}"))
            return True
        if action == "presence":
            user = m.get("user")
            name = user.get("account_name") if isinstance(user, dict) else None
            if not isinstance(name, str) or not 0 < len(name) <= 25 or name.startswith("#"):
                peer.send(answer(400, "bad user.account_name"))
            elif peer.name not in (None, name):
                peer.send(answer(400, "already logged in under another name"))
            elif self.peers.get(name, peer) is not peer:
                peer.send(answer(409, "this name is taken"))
            else:
                peer.name = name
                self.peers[name] = peer
                self.ever.add(name)
                peer.send(answer(200, "hello"))
            return True
        if peer.name is None:
            peer.send(answer(401, "presence required"))
            return True
        getattr(self, "do_" + action)(peer, m)
        return True

    @staticmethod
    def room_ok(room):
        return isinstance(room, str) and room.startswith("#") and 2 <= len(room) <= 25

    def do_msg(self, peer, m):
        to, text = m.get("to"), m.get("message")
        if not isinstance(to, str) or not to or not isinstance(text, str) or len(text) > 500:
            peer.send(answer(400, "need 'to' and 'message' (at most 500 characters)"))
            return
        relay = {"action": "msg", "to": to, "from": peer.name, "message": text}
        if "time" in m:
            relay["time"] = m["time"]       # the sender's time, passed on as it came
        if to.startswith("#"):
            if not self.room_ok(to):
                peer.send(answer(400, "bad room name"))
            elif to not in self.rooms:
                peer.send(answer(404, "no such room"))
            elif peer not in self.rooms[to]:
                peer.send(answer(403, "join the room first"))
            else:
                for member in self.rooms[to]:
                    member.send(relay)      # the sender too; no separate ack
        elif to in self.peers:
            self.peers[to].send(relay)      # delivered: no ack
        else:
            peer.send(answer(404, "no such user online"))

    def do_join(self, peer, m):
        room = m.get("room")
        if not self.room_ok(room):
            peer.send(answer(400, "bad room name"))
            return
        self.rooms.setdefault(room, set()).add(peer)
        peer.rooms.add(room)
        peer.send(answer(200, "joined"))

    def do_leave(self, peer, m):
        room = m.get("room")
        if not self.room_ok(room):
            peer.send(answer(400, "bad room name"))
        elif room not in peer.rooms:
            peer.send(answer(404, "not in that room"))
        else:
            peer.rooms.discard(room)
            self.rooms[room].discard(peer)
            if not self.rooms[room]:
                del self.rooms[room]
            peer.send(answer(200, "left"))

    def do_get_contacts(self, peer, m):
        peer.send({"response": "202", "alert": sorted(self.contacts.get(peer.name, []))})

    def do_add_contact(self, peer, m):
        who = m.get("user_id")
        if not isinstance(who, str) or not 0 < len(who) <= 25:
            peer.send(answer(400, "need user_id"))
        elif who not in self.ever:
            peer.send(answer(404, "no such user"))
        else:
            self.contacts.setdefault(peer.name, set()).add(who)
            peer.send(answer(200, "added"))

    def do_del_contact(self, peer, m):
        who = m.get("user_id")
        if not isinstance(who, str) or not 0 < len(who) <= 25:
            peer.send(answer(400, "need user_id"))
        elif who not in self.contacts.get(peer.name, set()):
            peer.send(answer(404, "not a contact"))
        else:
            self.contacts[peer.name].discard(who)
            peer.send(answer(200, "removed"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", "--port", type=int, default=7777)
    parser.add_argument("-a", "--addr", default="127.0.0.1")
    args = parser.parse_args()
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    server = socket.create_server((args.addr, args.port), family=family)
    chat = Chat()
    while True:
        sock, _ = server.accept()
        threading.Thread(target=chat.serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
