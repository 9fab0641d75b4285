"""The introduction's client on the Python reference (wsrpc-aiohttp), for
interop/python_test.go: the reference client against our Go server.

    PYTHONPATH=/path/to/wsrpc-aiohttp python3 client.py ws://127.0.0.1:PORT/ws/

Prints one line per call; exits non-zero on the first failure.
"""
import asyncio
import sys

from wsrpc_aiohttp import WSRPCClient


def multiply(socket, *, x, y):
    return x * y


async def main(url):
    client = WSRPCClient(url)
    client.add_route("multiply", multiply)
    await client.connect()
    try:
        print("subtract:", await client.proxy.subtract(a=1, b=9), flush=True)
        print("kv.set:", await client.proxy.kv.set(key="foo", value="bar"), flush=True)
        print("kv.get:", await client.proxy.kv.get(key="foo"), flush=True)
        print("multiply_loopback:", await client.proxy.multiply_loopback(), flush=True)
        try:
            await client.proxy.no_such_route()
        except Exception as e:  # ClientException carrying the error it was sent
            sent = e.args[0] if e.args and isinstance(e.args[0], dict) else {}
            print("no_such_route:", type(e).__name__, sent.get("type"), flush=True)
        big = "wsrpc " * 50000
        echoed = await client.proxy.echo(data=big)
        print("echo:", len(echoed) == len(big) and echoed == big, flush=True)
        results = await asyncio.gather(*(client.proxy.subtract(a=i, b=1) for i in range(50)))
        print("concurrent:", results == [i - 1 for i in range(50)], flush=True)
    finally:
        await client.close()


asyncio.run(main(sys.argv[1]))
