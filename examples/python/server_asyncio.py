#!/usr/bin/env python3
"""The same JIM server as server.py, on asyncio streams.

    python3 server_asyncio.py [-p PORT] [-a ADDR]     (defaults: 7777, all interfaces)

Prints "listening on ADDR:PORT" once it accepts connections.

The protocol parts (stream decoding, chat logic, replies) are imported from
server.py, so both servers behave identically; only the I/O differs. Each
connection gets a coroutine that reads and decodes its bytes. Writes go to the
transport's buffer and never wait, so a client that does not read cannot slow
down the others; if its buffer passes 1 MiB it is dropped.
"""

import argparse
import asyncio
import socket
import sys

from server import MAX_MESSAGE_BYTES, MAX_OUTBOX_BYTES, Chat, StreamDecoder, encode, reply


class Client:
    """What the chat logic needs from a connection: a name, rooms and send()."""

    def __init__(self, writer):
        self.writer = writer
        self.name = None
        self.rooms = set()
        self.dropped = False

    def send(self, message):
        if self.dropped:
            return
        self.writer.write(encode(message))
        if self.writer.transport.get_write_buffer_size() > MAX_OUTBOX_BYTES:
            self.drop()                 # it does not read: do not wait for it

    def drop(self):
        self.dropped = True
        self.writer.transport.abort()   # close now, discard unsent data


class Server:
    def __init__(self):
        self.chat = Chat()

    async def serve_client(self, reader, writer):
        client = Client(writer)
        decoder = StreamDecoder()
        try:
            while not client.dropped:
                data = await reader.read(65536)
                if not data:            # the peer closed: answer a final bare token, if any
                    for _, error in decoder.finish():
                        if error is not None:
                            client.send(reply(400, error))
                    break
                if not self.process(client, decoder, data):
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            self.chat.disconnect(client)
            writer.close()              # sends what is still buffered, then closes
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    def process(self, client, decoder, data):
        """Handle a chunk of bytes. Returns False if the connection must be closed."""
        for value, error in decoder.feed(data):
            if error is not None:
                client.send(reply(400, error))
            elif not self.chat.handle(client, value):
                return False            # quit: no reply
        if decoder.oversize:
            client.send(reply(400, f"message larger than {MAX_MESSAGE_BYTES} bytes "
                                   "(see §limits)"))
            return False
        return True


async def serve(addr, port):
    server = Server()
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    listener = await asyncio.start_server(server.serve_client, host=addr or None, port=port,
                                          family=family, backlog=128)
    host, real_port = listener.sockets[0].getsockname()[:2]
    print(f"listening on {host}:{real_port}", flush=True)
    async with listener:
        await listener.serve_forever()


def main():
    parser = argparse.ArgumentParser(description="JIM server (spec dialect, asyncio)")
    parser.add_argument("-p", "--port", type=int, default=7777, help="TCP port (default 7777)")
    parser.add_argument("-a", "--addr", default="", help="address to listen on (default: all)")
    args = parser.parse_args()
    if not 0 <= args.port <= 65535:
        parser.error("port must be between 0 and 65535")
    try:
        asyncio.run(serve(args.addr, args.port))
    except KeyboardInterrupt:
        pass
    except OSError as err:
        print(f"cannot listen on {args.addr}:{args.port}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
