"""Spec server that uses the wrong response codes.

Models: jim-protocol.md §3 (response codes) and §4.3 ("some ack everything, even unknown
actions"); PROTOCOL.md §codes (presence success is 200; 202 is for lists) and §errors.

Dialect: spec. Messages are decoded correctly (stream-safe) and direct and room messages are
relayed properly, but the student got the codes wrong:
  * presence is answered with 202 ("accepted") instead of 200, even for a name already in use;
  * every other request is answered with 200: unknown actions, bad JSON, non-objects, requests
    before presence, messages to unknown users or rooms, get_contacts (an empty `alert` list).
Responses otherwise have the canonical shape: {"response": N, "time": T, "alert": "..."}.

Expected verdicts: spec profile: fail on "presence/basic" (202, expected 200), and on every
error case (400/401/403/404/409 expected, 200 received). lesson3 profile: fail (202 is not the
expected 200; a lenient profile may report it as "2xx but not 200").

Run: python3 wrong_code_server.py -p PORT [-a ADDR]
"""

import argparse
import json
import select
import socket
import time


def answer(code, text):
    return {"response": code, "time": time.time(), "alert": text}


def send(sock, message):
    try:
        sock.sendall(json.dumps(message).encode("utf-8") + b"\n")
    except OSError:
        pass


def next_message(buf):
    """Return (text of one complete JSON value, rest) or (None, buf) if incomplete.

    Counts brackets outside strings; anything before the first '{' is thrown away.
    """
    start = buf.find(b"{")
    if start < 0:
        junk = buf.strip()          # no object in sight: hand the junk over as it is
        return (junk or None), b""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(buf)):
        ch = buf[i:i + 1]
        if in_string:
            if escaped:
                escaped = False
            elif ch == b"\\":
                escaped = True
            elif ch == b'"':
                in_string = False
        elif ch == b'"':
            in_string = True
        elif ch == b"{":
            depth += 1
        elif ch == b"}":
            depth -= 1
            if depth == 0:
                return buf[start:i + 1], buf[i + 1:]
    return None, buf[start:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", "--port", type=int, default=7777)
    parser.add_argument("-a", "--addr", default="127.0.0.1")
    args = parser.parse_args()
    family = socket.AF_INET6 if ":" in args.addr else socket.AF_INET
    listener = socket.create_server((args.addr, args.port), family=family)

    buffers = {}        # socket -> bytes received but not yet handled
    names = {}          # account name -> socket
    rooms = {}          # "#room" -> set of sockets
    while True:
        readable, _, _ = select.select([listener, *buffers], [], [], 1.0)
        for sock in readable:
            if sock is listener:
                client, _ = listener.accept()
                buffers[client] = b""
                continue
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                quit_ = True
            else:
                quit_ = False
                buffers[sock] += data
                while not quit_:
                    text, buffers[sock] = next_message(buffers[sock])
                    if text is None:
                        break
                    try:
                        msg = json.loads(text)
                    except ValueError:
                        msg = None
                    if not isinstance(msg, dict):
                        send(sock, answer(200, "OK"))
                        continue
                    action = msg.get("action")
                    if action == "quit":
                        quit_ = True
                    elif action == "presence":
                        user = msg.get("user")
                        name = user.get("account_name") if isinstance(user, dict) else None
                        if isinstance(name, str):
                            names[name] = sock
                        send(sock, answer(202, "presence accepted"))
                    elif action == "msg":
                        to = msg.get("to")
                        sender = next((n for n, s in names.items() if s is sock), None)
                        relay = {"action": "msg", "time": time.time(), "to": to,
                                 "from": sender, "message": msg.get("message")}
                        if isinstance(to, str) and to.startswith("#"):
                            for member in rooms.get(to, ()):
                                if member is not sock:
                                    send(member, relay)
                        elif to in names:
                            send(names[to], relay)
                        send(sock, answer(200, "OK"))
                    elif action in ("join", "leave") and isinstance(msg.get("room"), str):
                        members = rooms.setdefault(msg["room"], set())
                        if action == "join":
                            members.add(sock)
                        else:
                            members.discard(sock)
                        send(sock, answer(200, "OK"))
                    elif action == "get_contacts":
                        send(sock, {"response": 200, "time": time.time(), "alert": []})
                    else:
                        send(sock, answer(200, "OK"))
            if quit_:
                for name in [n for n, s in names.items() if s is sock]:
                    del names[name]
                for members in rooms.values():
                    members.discard(sock)
                del buffers[sock]
                sock.close()


if __name__ == "__main__":
    main()
