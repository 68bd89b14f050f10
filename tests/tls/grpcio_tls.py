#!/usr/bin/env python3
"""python3-grpcio (C-core) against a TLS client port: a raw etcd Range call over
grpc.secure_channel with ssl_channel_credentials. Usage:

    grpcio_tls.py HOST:PORT CA_FILE KEY EXPECTED_VALUE [CLIENT_CERT CLIENT_KEY]

Exit 0 when the Range response carries EXPECTED_VALUE, 1 with the gRPC error otherwise."""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def main():
    target, ca_file, key, expected = sys.argv[1:5]
    chain = private = None
    if len(sys.argv) > 6:
        chain = open(sys.argv[5], "rb").read()
        private = open(sys.argv[6], "rb").read()
    creds = grpc.ssl_channel_credentials(
        root_certificates=open(ca_file, "rb").read(), private_key=private, certificate_chain=chain
    )
    with grpc.secure_channel(target, creds) as channel:
        rng = channel.unary_unary("/etcdserverpb.KV/Range")  # bytes in, bytes out
        request = b"\x0a" + varint(len(key)) + key.encode()  # RangeRequest{key}
        try:
            response = rng(request, timeout=10)
        except grpc.RpcError as e:
            print("grpc error: %s %s" % (e.code(), e.details()))
            return 1
    if expected.encode() not in response:
        print("value %r not in the response %r" % (expected, response))
        return 1
    print("grpcio over TLS: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
