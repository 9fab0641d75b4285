"""The introduction's server on the Python reference (wsrpc-aiohttp), for
interop/python_test.go: our Go client against the reference server.

    PYTHONPATH=/path/to/wsrpc-aiohttp python3 server.py PORT

Needs aiohttp (Debian: python3-aiohttp). Prints "listening" once it serves.
"""
import asyncio
import sys

from aiohttp import web
from wsrpc_aiohttp import WebSocketAsync, WebSocketRoute, decorators


async def subtract(socket, *, a, b):
    return a - b


async def multiply_loopback(socket):
    return await socket.proxy.multiply(x=10, y=20)


async def fail(socket, *, message):
    raise KeyError(message)


async def echo(socket, *, data):
    return data


class Storage(WebSocketRoute):
    # wsrpc-aiohttp 4.0.4 does not run init before the first call, though
    # its introduction says so: the dict is made on first use instead.
    def store(self):
        if not hasattr(self, "_internal"):
            self._internal = {}
        return self._internal

    @decorators.proxy
    async def get(self, key, default=None):
        return self.store().get(key, default)

    @decorators.proxy
    async def set(self, key, value):
        self.store()[key] = value
        return True


WebSocketAsync.add_route("subtract", subtract)
WebSocketAsync.add_route("multiply_loopback", multiply_loopback)
WebSocketAsync.add_route("fail", fail)
WebSocketAsync.add_route("echo", echo)
WebSocketAsync.add_route("kv", Storage)


async def main(port):
    app = web.Application()
    app.router.add_route("*", "/ws/", WebSocketAsync)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("listening", flush=True)  # the socket is bound now
    await asyncio.Event().wait()


asyncio.run(main(int(sys.argv[1])))
