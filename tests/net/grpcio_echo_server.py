#!/usr/bin/python3
"""Reference echo server for net_bench: Debian's python3-grpcio serving /cairn.test.Echo/Unary (raw bytes,
no protoc), like the service in tests/net/test_service.h.

Usage: grpcio_echo_server.py [--port N] [--workers N]
Listens on 127.0.0.1 (port 0: the OS chooses), prints "PORT <n>", serves until stdin reaches end of file
(or the process is killed), then stops.
"""
import argparse
import sys
from concurrent import futures

import grpc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--workers", type=int, default=16)
    args = ap.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=args.workers))
    handler = grpc.method_handlers_generic_handler(
        "cairn.test.Echo", {"Unary": grpc.unary_unary_rpc_method_handler(lambda request, context: request)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:%d" % args.port)
    if port == 0:
        print("cannot bind 127.0.0.1:%d" % args.port, file=sys.stderr)
        return 1
    server.start()
    print("PORT %d" % port, flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or goes away)
    server.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
