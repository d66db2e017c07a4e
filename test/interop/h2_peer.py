#!/usr/bin/env python3
"""An HBONE peer built on Python's h2 (python3-h2), used by hbone-h2.test.ts to check Ambit's HTTP/2
transport against an implementation we did not write. Mutual TLS 1.3, ALPN h2, CONNECT streams.

  h2_peer.py client HOST PORT CERT KEY CA MODE ARG AUTHORITY   one JSON line with what happened
  h2_peer.py server CERT KEY CA MODE                     prints the port, then serves one connection

Client modes: echo SIZE | concurrent N | ping | reset | window | goaway-seen
Server modes: echo | goaway (GOAWAY after the first stream finished)
"""
import hashlib, json, socket, ssl, sys, time
import h2.config, h2.connection, h2.events, h2.errors, h2.settings

def pattern(n):
    # Deterministic bytes both sides can hash: a repeating 251-byte ramp.
    block = bytes(range(251)) * 4096
    out = bytearray()
    while len(out) < n:
        out += block[: n - len(out)]
    return bytes(out)

def tls_context(server, cert, key, ca):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    if not server:
        ctx.check_hostname = False  # HBONE checks SPIFFE ids, not names
    ctx.set_alpn_protocols(["h2"])
    return ctx

class Peer:
    def __init__(self, sock, client, window=None):
        self.sock = sock
        # h2 4.x insists on :path, also for CONNECT (RFC 9113 §8.5 forbids it there): its header
        # checks are turned off, and this script checks CONNECT requests itself.
        cfg = h2.config.H2Configuration(client_side=client, header_encoding="utf-8", validate_outbound_headers=False, validate_inbound_headers=False, normalize_outbound_headers=False)
        self.conn = h2.connection.H2Connection(config=cfg)
        self.conn.initiate_connection()
        if window is not None:
            self.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: window})
        self.flush()
        self.events = []

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    # Client side: received DATA is hashed and its window given back as it arrives (unless
    # `hold` is set), so a peer echoing while we still send never waits on us.
    hold = False
    received = None

    def pump(self, timeout=10):
        self.sock.settimeout(timeout)
        data = self.sock.recv(1 << 20)
        if not data:
            raise EOFError("peer closed the connection")
        evs = self.conn.receive_data(data)
        if self.received is not None and not self.hold:
            for e in evs:
                if isinstance(e, h2.events.DataReceived):
                    got = self.received.setdefault(e.stream_id, [0, hashlib.sha256()])
                    got[0] += len(e.data)
                    got[1].update(e.data)
                    self.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
            evs = [e for e in evs if not isinstance(e, h2.events.DataReceived)]
        self.flush()
        return evs

    def send_all(self, sid, data, end=True):
        """Sends as flow control allows, reading (and collecting events) while blocked."""
        off = 0
        while off < len(data):
            room = min(self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size, len(data) - off)
            if room <= 0:
                self.events += self.pump()
                continue
            self.conn.send_data(sid, data[off : off + room])
            off += room
            self.flush()
        if end:
            self.conn.end_stream(sid)
            self.flush()

def client(host, port, cert, key, ca, mode, arg):
    raw = socket.create_connection((host, int(port)))
    sock = tls_context(False, cert, key, ca).wrap_socket(raw)
    assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
    window = 65535 if mode == "window" else None
    p = Peer(sock, True, window)
    p.received = {}
    result = {}

    def connect(auth):
        sid = p.conn.get_next_available_stream_id()
        p.conn.send_headers(sid, [(":method", "CONNECT"), (":authority", auth)])
        p.flush()
        return sid

    def wait(pred, timeout=20):
        end = time.time() + timeout
        while True:
            for e in p.events:
                if pred(e):
                    return e
            if time.time() > end:
                raise TimeoutError("waited for %s; events %r" % (pred, p.events[-5:]))
            p.events += p.pump()

    def status_of(sid):
        e = wait(lambda e: isinstance(e, h2.events.ResponseReceived) and e.stream_id == sid)
        return dict(e.headers)[":status"]

    def collect(sid):
        wait(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == sid or isinstance(e, h2.events.StreamReset) and e.stream_id == sid)
        if any(isinstance(e, h2.events.StreamReset) and e.stream_id == sid for e in p.events):
            raise RuntimeError("stream %d was reset" % sid)
        got, h = p.received.pop(sid, [0, hashlib.sha256()])
        return got, h.hexdigest()

    echo_at = AUTH
    if mode == "echo":
        size = int(arg)
        sid = connect(echo_at)
        result["status"] = status_of(sid)
        data = pattern(size)
        p.send_all(sid, data)
        got, digest = collect(sid)
        result.update(bytes=got, sha256=digest, sent_sha256=hashlib.sha256(data).hexdigest())
    elif mode == "concurrent":
        n = int(arg)
        sids = [connect(echo_at) for _ in range(n)]
        ok = 0
        for i, sid in enumerate(sids):
            status_of(sid)
            msg = ("stream %d " % i).encode() * 100
            p.send_all(sid, msg)
        for i, sid in enumerate(sids):
            got, digest = collect(sid)
            ok += digest == hashlib.sha256(("stream %d " % i).encode() * 100).hexdigest()
        result.update(streams=n, ok=ok)
    elif mode == "ping":
        p.conn.ping(b"ambit-h2")
        p.flush()
        e = wait(lambda e: isinstance(e, h2.events.PingAckReceived))
        result.update(ping_ack=e.ping_data.decode())
    elif mode == "reset":
        sid = connect(echo_at)
        status_of(sid)
        p.conn.send_data(sid, b"x" * 16000)
        p.flush()
        while not p.received.get(sid):
            p.events += p.pump()
        p.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
        p.flush()
        sid2 = connect(echo_at)
        status_of(sid2)
        p.send_all(sid2, b"after the reset")
        got, digest = collect(sid2)
        result.update(after=digest == hashlib.sha256(b"after the reset").hexdigest())
    elif mode == "window":
        # We never give window back: the server must stop at our 65,535-byte stream window.
        sid = connect(echo_at)
        status_of(sid)
        p.hold = True
        p.send_all(sid, pattern(1 << 20), end=True)
        got = sum(e.flow_controlled_length for e in p.events if isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
        p.events = [e for e in p.events if not isinstance(e, h2.events.DataReceived)]
        deadline = time.time() + 1.0
        while time.time() < deadline:
            try:
                evs = p.pump(timeout=0.2)
            except socket.timeout:
                continue
            got += sum(e.flow_controlled_length for e in evs if isinstance(e, h2.events.DataReceived) and e.stream_id == sid)
            p.events += [e for e in evs if not isinstance(e, h2.events.DataReceived)]
        result["before_ack"] = got
        p.hold = False
        p.conn.acknowledge_received_data(got, sid)  # now let the rest flow
        p.flush()
        rest, _ = collect(sid)
        result["total"] = got + rest
    elif mode == "goaway-seen":
        # h2 stops sending on every stream once it saw GOAWAY, so the live stream shows only that
        # the server keeps it: what we sent before still comes back.
        sid = connect(echo_at)
        status_of(sid)
        p.send_all(sid, b"before goaway", end=False)
        # The echo first, then the GOAWAY: h2 refuses DATA once it has seen one, so the test only
        # sends it after this line (a loaded machine can delay the echo past any fixed sleep).
        while p.received.get(sid, [0])[0] < len(b"before goaway"):
            p.events += p.pump(timeout=10)
        print(json.dumps({"echoed_before_goaway": p.received[sid][0]}), flush=True)
        e = wait(lambda e: isinstance(e, h2.events.ConnectionTerminated), timeout=30)
        result.update(goaway_code=int(e.error_code), last_stream_id=e.last_stream_id)
        got = p.received.get(sid, [0, None])[0]
        if got < len(b"before goaway"):
            try:
                while p.received.get(sid, [0])[0] < len(b"before goaway"):
                    p.events += p.pump(timeout=5)
            except (EOFError, socket.timeout):
                pass
        result.update(echoed=p.received.get(sid, [0])[0])
    print(json.dumps(result), flush=True)
    p.conn.close_connection()
    p.flush()
    sock.close()

def server(cert, key, ca, mode):
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print(ls.getsockname()[1], flush=True)
    raw, _ = ls.accept()
    sock = tls_context(True, cert, key, ca).wrap_socket(raw, server_side=True)
    p = Peer(sock, False)
    open_streams, served = set(), 0
    try:
        while True:
            # Events gathered while send_all waited for window come first.
            evs, p.events = p.events, []
            for e in evs + p.pump(timeout=60):
                if isinstance(e, h2.events.RequestReceived):
                    h = dict(e.headers)
                    ok = h.get(":method") == "CONNECT" and ":path" not in h
                    p.conn.send_headers(e.stream_id, [(":status", "200" if ok else "400")], end_stream=not ok)
                    if ok:
                        open_streams.add(e.stream_id)
                elif isinstance(e, h2.events.DataReceived):
                    p.conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
                    if e.stream_id in open_streams:
                        p.flush()
                        p.send_all(e.stream_id, e.data, end=False)
                elif isinstance(e, h2.events.StreamEnded) and e.stream_id in open_streams:
                    p.conn.end_stream(e.stream_id)
                    open_streams.discard(e.stream_id)
                    served += 1
                    if mode == "goaway" and served == 1:
                        p.conn.close_connection(last_stream_id=e.stream_id)
                elif isinstance(e, h2.events.StreamReset):
                    open_streams.discard(e.stream_id)
                elif isinstance(e, h2.events.ConnectionTerminated):
                    return
                p.flush()
            p.flush()
    except (EOFError, ConnectionError, ssl.SSLError):
        return

AUTH = "127.0.0.1:1"
if __name__ == "__main__":
    if sys.argv[1] == "client":
        _, _, host, port, cert, key, ca, mode = sys.argv[:8]
        arg = sys.argv[8] if len(sys.argv) > 8 else None
        if len(sys.argv) > 9:
            AUTH = sys.argv[9]
        client(host, port, cert, key, ca, mode, arg)
    else:
        server(*sys.argv[2:6])
