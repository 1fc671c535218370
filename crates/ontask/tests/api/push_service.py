"""A Web Push service double on loopback, for crates/ontask/tests/api/push.rs.

It plays both ends a real push service joins: the user agent (it makes the
P-256 key pair and auth secret a browser's PushManager would, RFC 8291
section 2) and the push service that accepts messages for it (RFC 8030
section 5). For every POST to a subscription's endpoint it checks what a push
service and the browser would: the TTL header, the VAPID Authorization header
(RFC 8292: `vapid t=<JWT>, k=<key>`, the ES256 signature verified with
py-vapid, `aud` the endpoint's origin, `exp` within 24 hours, `sub` a mailto:
or https: contact), and decrypts the aes128gcm body with the subscription's
private key (RFC 8291, PyPI http-ece). Then it answers 201 Created with a
Location, or 410 Gone for the endpoint that plays an expired subscription.

It prints one JSON line when it listens: its subscriptions (endpoint and the
public keys a browser would hand out). GET /messages lists what it accepted
(decrypted) and what it refused, and why.
"""

import base64
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
import py_vapid
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Device:
    """What a browser keeps for one push subscription."""

    def __init__(self, name: str, gone: bool):
        self.name = name
        self.gone = gone
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def public(self) -> dict:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"p256dh": b64url(point), "auth": b64url(self.auth)}


DEVICES = {"alive": Device("alive", gone=False), "gone": Device("gone", gone=True)}
LOCK = threading.Lock()
ACCEPTED = []
REFUSED = []


def check_vapid(header: str, origin: str) -> dict:
    """The claims of a valid RFC 8292 Authorization header, or ValueError."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        raise ValueError(f"the Authorization scheme is {scheme!r}, not vapid")
    fields = {}
    for part in params.split(","):
        key, _, value = part.strip().partition("=")
        fields[key] = value
    if "t" not in fields or "k" not in fields:
        raise ValueError("the vapid Authorization header needs t= and k=")
    signed, _, signature = fields["t"].rpartition(".")
    if not py_vapid.Vapid02.from_raw_public(fields["k"].encode()).verify_token(signed.encode(), signature):
        raise ValueError("the VAPID JWT's signature does not verify with k")
    header_part, _, claims_part = signed.partition(".")
    jwt_header = json.loads(unb64url(header_part))
    if jwt_header.get("alg") != "ES256":
        raise ValueError(f"the VAPID JWT is signed with {jwt_header.get('alg')}, not ES256")
    claims = json.loads(unb64url(claims_part))
    if claims.get("aud") != origin:
        raise ValueError(f"aud is {claims.get('aud')!r}, not the endpoint's origin {origin!r}")
    now = time.time()
    if not now < claims.get("exp", 0) <= now + 24 * 3600 + 60:
        raise ValueError(f"exp {claims.get('exp')} is not within the next 24 hours")
    if not str(claims.get("sub", "")).startswith(("mailto:", "https:")):
        raise ValueError(f"sub {claims.get('sub')!r} is not a mailto: or https: contact")
    return claims


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass

    def answer(self, status: int, body: bytes = b"", headers: dict | None = None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path != "/messages":
            return self.answer(404)
        with LOCK:
            body = json.dumps({"accepted": ACCEPTED, "refused": REFUSED}).encode()
        self.answer(200, body, {"Content-Type": "application/json"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        name = self.path.removeprefix("/push/")
        device = DEVICES.get(name)
        if device is None:
            return self.answer(404)
        try:
            if self.headers.get("TTL") is None or not self.headers["TTL"].isdigit():
                raise ValueError("the TTL header is missing (RFC 8030 section 5.2)")
            if self.headers.get("Content-Encoding") != "aes128gcm":
                raise ValueError(f"Content-Encoding is {self.headers.get('Content-Encoding')!r}, not aes128gcm")
            origin = f"http://{self.headers['Host']}"
            claims = check_vapid(self.headers.get("Authorization", ""), origin)
            plain = http_ece.decrypt(
                body, private_key=device.private_key, auth_secret=device.auth, version="aes128gcm"
            )
        except Exception as e:  # every refusal is recorded with its reason
            with LOCK:
                REFUSED.append({"device": name, "reason": str(e)})
            return self.answer(400, str(e).encode())
        with LOCK:
            ACCEPTED.append({
                "device": name,
                "payload": json.loads(plain),
                "ttl": int(self.headers["TTL"]),
                "sub": claims["sub"],
            })
            number = len(ACCEPTED)
        if device.gone:
            return self.answer(410, b"the subscription has expired")
        self.answer(201, headers={"Location": f"/message/{number}"})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    subscriptions = {
        name: {"endpoint": f"{base}/push/{name}", "keys": device.public()} for name, device in DEVICES.items()
    }
    print(json.dumps({"url": base, "subscriptions": subscriptions}), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
