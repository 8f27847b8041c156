#!/usr/bin/env python3
"""Tiny HTTP/1.1 servers for pcaps/record.sh: real sockets, canned answers.

Profiles:
  foundation  GET /, GET /hello.txt (files), POST /api/v1/items -> 201 JSON, else 404
  deathstar   the Cilium Star Wars demo's deathstar API (docs.cilium.io, "Getting Started with the
              Star Wars Demo"): POST /v1/request-landing -> 200 "Ship landed",
              PUT /v1/exhaust-port -> 503 "Panic: deathstar exploded" (the demo app's status and
              text), GET /v1 -> the API listing, else 404
  echo        every request -> 200 with a small JSON document naming the method and path (in the
              spirit of cilium's json-mock echo servers used by `cilium connectivity test`)

Listens dual-stack on [::]:PORT for every --port, and with TLS (a self-signed certificate made
with openssl, --cert) on every --tls-port. Server header and Date are fixed so re-recorded captures differ
only where the network makes them differ (addresses, ports, sequence numbers, timestamps).
"""
import argparse
import http.server
import json
import socket
import ssl
import sys
import threading

EXHAUST_PANIC = (
    "Panic: deathstar exploded\n\n"
    "goroutine 1 [running]:\n"
    "main.HandleGarbage(0x2080c3f50, 0x2, 0x4, 0x425c0, 0x5, 0xa)\n"
    "        /code/src/github.com/empire/deathstar/\n"
    "        temp/main.go:9 +0x64\n"
    "main.main()\n"
    "        /code/src/github.com/empire/deathstar/\n"
    "        temp/main.go:5 +0x85\n"
)

DEATHSTAR_API = json.dumps(
    {
        "name": "Death Star",
        "hostname": "deathstar",
        "model": "DS-1 Orbital Battle Station",
        "api": [
            "GET   /v1",
            "GET   /v1/healthz",
            "POST  /v1/request-landing",
            "PUT   /v1/cargobay",
            "GET   /v1/hyper-matter-reactor/status",
            "PUT   /v1/exhaust-port",
        ],
    },
    indent=2,
) + "\n"

INDEX_HTML = (
    "<!doctype html>\n<html><head><title>hubcap sample</title></head>\n"
    "<body><p>Hello from the hubcap sample server.</p></body></html>\n"
)

# (method, path) -> (status, content type, body); a callable body gets the request body.
ROUTES = {
    "foundation": {
        ("GET", "/"): (200, "text/html", INDEX_HTML),
        ("GET", "/index.html"): (200, "text/html", INDEX_HTML),
        ("GET", "/hello.txt"): (200, "text/plain", "hello, hubcap\n"),
        ("POST", "/api/v1/items"): (
            201,
            "application/json",
            lambda body: json.dumps({"id": 1, "received": len(body)}) + "\n",
        ),
    },
    "deathstar": {
        ("GET", "/v1"): (200, "application/json", DEATHSTAR_API),
        ("GET", "/v1/"): (200, "application/json", DEATHSTAR_API),
        ("GET", "/v1/healthz"): (200, "text/plain", "OK\n"),
        ("POST", "/v1/request-landing"): (200, "text/plain", "Ship landed\n"),
        ("PUT", "/v1/exhaust-port"): (503, "text/plain", EXHAUST_PANIC),
    },
}


def make_handler(profile):
    routes = None if profile == "echo" else ROUTES[profile]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "hubcap-sample/1"
        sys_version = ""

        def date_time_string(self, timestamp=None):  # noqa: ARG002 - fixed on purpose
            return "Thu, 01 Jan 2026 00:00:00 GMT"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if routes is None:  # echo
                status, ctype = 200, "application/json"
                payload = json.dumps({"method": self.command, "path": self.path}) + "\n"
            else:
                status, ctype, payload = routes.get(
                    (self.command, self.path), (404, "text/plain", "404 page not found\n")
                )
            if callable(payload):
                payload = payload(body)
            data = payload.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = _answer
        do_POST = _answer
        do_PUT = _answer
        do_DELETE = _answer
        do_HEAD = _answer

        def log_message(self, fmt, *args):
            sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    return Handler


class DualStackServer(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6
    daemon_threads = True

    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(ROUTES) + ["echo"], required=True)
    parser.add_argument("--port", type=int, action="append", help="plain HTTP port (repeatable)")
    parser.add_argument("--tls-port", type=int, action="append", default=[], help="HTTPS port")
    parser.add_argument("--cert", help="PEM file with the private key and certificate for TLS")
    args = parser.parse_args()
    ports = args.port or ([] if args.tls_port else [8000])
    if args.tls_port and not args.cert:
        parser.error("--tls-port needs --cert")
    servers = []
    for port in ports:
        servers.append(DualStackServer(("::", port), make_handler(args.profile)))
    for port in args.tls_port:
        server = DualStackServer(("::", port), make_handler(args.profile))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        servers.append(server)
    for server in servers[1:]:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stderr.write(
        "listening on [::]:%s profile %s\n"
        % (",".join(str(p) for p in ports + [t for t in args.tls_port]), args.profile)
    )
    sys.stderr.flush()
    servers[0].serve_forever()


if __name__ == "__main__":
    main()
