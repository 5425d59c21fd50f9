"""Lesson-3 server that answers in plain text, not JIM.

Models: jim-protocol.md §5 "Lesson-3 servers may reply plain text ("message received") -
"responds, but not JIM""; PROTOCOL.md §lesson3 ("classified, not tolerated").

Dialect: none (lesson 3 attempt). It accepts a connection, reads once, prints nothing, sends the
bytes `message received` (no JSON, no newline) and closes the connection, whatever was received.

Expected verdicts: lesson3 profile: fail, classified as "responds, but not JIM" (the reply is
not a JSON value). Every other profile fails the same way on its first step.

Run: python3 plain_text_server.py -p PORT [-a ADDR]
"""

import argparse
import socket


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-p", type=int, default=7777)
    parser.add_argument("-a", default="127.0.0.1")
    args = parser.parse_args()

    family = socket.AF_INET6 if ":" in args.a else socket.AF_INET
    server = socket.socket(family, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind((args.a, args.p))
    server.listen(5)

    while True:
        client, address = server.accept()
        client.settimeout(10)
        try:
            data = client.recv(1024)
            if data:
                client.send("message received".encode("utf-8"))
        except OSError:
            pass
        client.close()


if __name__ == "__main__":
    main()
