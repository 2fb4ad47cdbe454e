"""A scripted python-socketio peer for the gateway tests (an independent Socket.IO v5 client).

Usage: sio_peer.py PLAN_JSON_FILE   ->  prints one JSON object with what every client saw.

Plan: {"url": "http://127.0.0.1:PORT", "path": "/ws",
       "clients": [{"name": "a", "token": "...", "transports": ["websocket"], "bearer": false,
                    "url": "http://127.0.0.1:OTHER"}],   # url: this client's gateway (default: the plan's)
       "steps": [{"client": "a", "emit": "event", "data": {...}, "ack": true}, {"sleep": 0.5},
                 {"client": "a", "disconnect": true}, {"client": "a", "raw": "2[\"event\",{broken"}],
                 {"client": "a", "wait_for": "event-name", "timeout": 20, "count": 1,
                  "match": {"userId": "u1"}},   # match: the event's first argument contains these members
                 {"client": "a", "wait_ack": "event", "count": 1, "timeout": 20},
                 {"touch": "/tmp/file"}, {"wait_file": "/tmp/other", "timeout": 60},  # sync with the test
                 {"client": "a", "emit": "event", "data_file": "/tmp/data.json"},  # data the test wrote meanwhile
                 {"client": "a", "wait_disconnected": true, "timeout": 20},
                 {"client": "a", "sign_and_verify": {"recordId": "r1", "key_file": "k.pem", "format": "raw",
                                                     "challenge": -1, "tamper": false}, "ack": true}],
       "collect_seconds": 2}
`touch` writes what every client saw so far (the JSON printed at the end) to the file.
Bytes travel as {"$bytes": "<base64>"} in both directions.
"""
import base64
import json
import os
import subprocess
import sys
import threading
import time

import requests
import socketio


def to_wire(value):
    if isinstance(value, dict):
        if set(value) == {"$bytes"}:
            return base64.b64decode(value["$bytes"])
        return {k: to_wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    return value


def from_wire(value):
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dict):
        return {k: from_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [from_wire(v) for v in value]
    return value


def matches(args, expected):
    """Whether the event's first argument is an object containing every member of `expected` (None: any)."""
    if expected is None:
        return True
    first = args[0] if args else None
    return isinstance(first, dict) and all(first.get(key) == value for key, value in expected.items())


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_to_raw(der):
    """ECDSA-Sig-Value DER (SEQUENCE of two INTEGERs) -> r||s, 32 bytes each."""
    assert der[0] == 0x30
    index = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[index] == 0x02
        length = der[index + 1]
        value = der[index + 2:index + 2 + length].lstrip(b"\x00")
        out += value.rjust(32, b"\x00")
        index += 2 + length
    return out


def signed_verify(spec, record):
    """biometric:verify data for the client's n-th received challenge, signed by OpenSSL (an independent signer)."""
    issued = [args[0] for event, args in record["events"] if event == "biometric:challenge-issued"]
    challenge = issued[spec.get("challenge", -1)]["challenge"]
    message = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
    der = subprocess.run(["openssl", "dgst", "-sha256", "-sign", spec["key_file"]], input=message,
                         capture_output=True, check=True).stdout
    signature = der_to_raw(der) if spec.get("format", "raw") == "raw" else der
    if spec.get("tamper"):
        signature = bytes([signature[0] ^ 1]) + signature[1:]
    return {"recordId": spec["recordId"], "challenge": challenge, "signature": b64url(signature)}


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    lock = threading.Lock()
    results = {}
    clients = {}
    for spec in plan["clients"]:
        name = spec["name"]
        record = {"connected": False, "events": [], "acks": [], "connect_error": None, "disconnected": False}
        results[name] = record
        # With https the gateway has a test certificate: trust exactly that one (for polling and, through the
        # session's verify path, for the WebSocket too); ignore CA bundles named in the environment.
        session = None
        if plan.get("ca_file"):
            session = requests.Session()
            session.trust_env = False
            session.verify = plan["ca_file"]
        client = socketio.Client(reconnection=False, http_session=session)

        def on_any(event, *args, record=record):
            with lock:
                record["events"].append([event, from_wire(list(args))])

        def on_connect_error(data, record=record):
            with lock:
                record["connect_error"] = from_wire(data)

        def on_disconnect(*args, record=record):
            with lock:
                record["disconnected"] = True

        client.on("*", on_any)
        client.on("connect_error", on_connect_error)
        client.on("disconnect", on_disconnect)
        headers = {}
        auth = {"token": spec["token"]}
        if spec.get("bearer"):
            headers["Authorization"] = "Bearer " + spec["token"]
            auth = None
        try:
            client.connect(spec.get("url", plan["url"]), socketio_path=plan.get("path", "/ws"), auth=auth, headers=headers,
                           transports=spec.get("transports", ["websocket"]), wait_timeout=10)
            record["connected"] = True
            record["sid"] = client.get_sid("/")  # the Socket.IO socket id (client.sid is Engine.IO's)
            # After a polling handshake python-socketio upgrades in the background; give it a moment.
            deadline = time.time() + 3
            while spec.get("transports") == ["polling", "websocket"] and client.transport() != "websocket" \
                    and time.time() < deadline:
                time.sleep(0.05)
            record["transport"] = client.transport()
        except Exception as error:  # refused: connect_error has the server's message
            record["error"] = repr(error)
            time.sleep(0.2)
        clients[name] = client

    for step in plan.get("steps", []):
        if "sleep" in step:
            time.sleep(step["sleep"])
            continue
        if "touch" in step:  # tells the test that the plan got here, with what every client saw so far
            with lock:
                snapshot = json.dumps(results)
            with open(step["touch"] + ".tmp", "w") as f:
                f.write(snapshot)
            os.replace(step["touch"] + ".tmp", step["touch"])
            continue
        if "wait_file" in step:  # until the test creates this file (bounded)
            deadline = time.time() + step.get("timeout", 60)
            while not os.path.exists(step["wait_file"]) and time.time() < deadline:
                time.sleep(0.02)
            continue
        name = step["client"]
        client, record = clients[name], results[name]
        if not record["connected"]:
            continue
        if "wait_for" in step:  # until the client has received this event (bounded): syncs with the test
            deadline = time.time() + step.get("timeout", 20)
            while time.time() < deadline:
                with lock:
                    seen = sum(1 for event, args in record["events"]
                               if event == step["wait_for"] and matches(args, step.get("match")))
                    if seen >= step.get("count", 1):
                        break
                time.sleep(0.02)
        elif "wait_ack" in step:  # until the client has this many answers to acks of this event (bounded)
            deadline = time.time() + step.get("timeout", 20)
            while time.time() < deadline:
                with lock:
                    if sum(1 for event, _ in record["acks"] if event == step["wait_ack"]) >= step.get("count", 1):
                        break
                time.sleep(0.02)
        elif "wait_disconnected" in step:  # until the server has disconnected the client (bounded)
            deadline = time.time() + step.get("timeout", 20)
            while not record["disconnected"] and time.time() < deadline:
                time.sleep(0.02)
        elif step.get("disconnect"):
            client.disconnect()
        elif "raw" in step:  # a Socket.IO packet as text, e.g. '2["event",{broken'
            client.eio.send(step["raw"])
        elif "emit" in step or "sign_and_verify" in step:
            if "sign_and_verify" in step:
                with lock:
                    step = dict(step, emit="biometric:verify", data=signed_verify(step["sign_and_verify"], record))
            if "data_file" in step:  # the event's data, written by the test while the plan runs
                with open(step["data_file"]) as f:
                    step = dict(step, data=json.load(f))
            data = to_wire(step.get("data"))
            args = () if "data" not in step else (data,)
            if step.get("ack"):
                def on_ack(*answer, record=record, event=step["emit"]):
                    with lock:
                        record["acks"].append([event, from_wire(list(answer))])
                client.emit(step["emit"], *args, callback=on_ack) if args else client.emit(step["emit"], callback=on_ack)
            else:
                client.emit(step["emit"], *args) if args else client.emit(step["emit"])
    time.sleep(plan.get("collect_seconds", 1))
    for name, client in clients.items():
        results[name]["still_connected"] = client.connected
        if client.connected:
            client.disconnect()
    print(json.dumps(results))


if __name__ == "__main__":
    main()
