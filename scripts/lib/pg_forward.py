"""Forwards connections on a Unix socket to PostgreSQL's TCP port.

    python3 pg_forward.py SOCKET_DIR [HOST [PORT]]

Listens on SOCKET_DIR/.s.PGSQL.5432, where a PostgreSQL client looks for the server when
told to use SOCKET_DIR as its host, and joins each connection to HOST:PORT (default
127.0.0.1:5432). scripts/fuzz runs the server in a network namespace of its own, which has
loopback only; a Unix socket is a file, so it crosses into that namespace, and PostgreSQL is
reached over TCP as everywhere else (its local-socket authentication may differ). Runs until
killed.
"""

import asyncio
import os
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def main() -> None:
    directory = sys.argv[1]
    host = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 5432

    async def joined(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    path = os.path.join(directory, ".s.PGSQL.5432")
    server = await asyncio.start_unix_server(joined, path=path)
    print(f"forwarding {path} to {host}:{port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
