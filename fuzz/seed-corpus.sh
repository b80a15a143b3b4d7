#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the repository's fixtures (the corpus
# directory is git-ignored; nothing here is committed but this script).
# Usage: fuzz/seed-corpus.sh [TARGET]   (all targets when none is given)
set -euo pipefail
cd "$(dirname "$0")"
exec python3 - "${1:-}" <<'PY'
import base64, glob, hashlib, os, re, sys

only = sys.argv[1]
root = ".."
requests = sorted(glob.glob(f"{root}/fixtures/requests/**/*.xml", recursive=True))
responses = sorted(glob.glob(f"{root}/fixtures/firmware/**/*.xml", recursive=True))

def put(target, data):
    if only and target != only:
        return
    d = f"corpus/{target}"
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(f"{d}/{name}", "wb") as f:
        f.write(data)

def read(p):
    with open(p, "rb") as f:
        return f.read()

# Envelopes: every request fixture, and the firmware's replies (also SOAP).
for p in requests + responses:
    put("soap_envelope", read(p))

# Recorded replies: what a recording holds.
for p in responses:
    put("recorded_replies", read(p))
for p in requests:
    body = read(p)
    put("wsman_service", body)
    put("wsman_service", b"\0" + body)  # factory device

# Enumerate then Pull in one input for each class (NUL-separated).
by_class = {}
for p in requests:
    by_class.setdefault(os.path.basename(os.path.dirname(p)), {})[os.path.basename(p)] = read(p)
for cls, files in by_class.items():
    if "Enumerate.request.xml" in files and "Pull.request.xml" in files:
        put("wsman_service", files["Enumerate.request.xml"] + b"\0" + files["Pull.request.xml"])

# HTTP: each request fixture as a digest-authenticated POST (@AUTH@ is
# replaced by a valid Authorization value by the target), a few without.
def http(body, auth=True, chunked=False):
    head = b"POST /wsman HTTP/1.1\r\nHost: 127.0.0.1:16992\r\n"
    if auth:
        head += b"Authorization: @AUTH@\r\n"
    head += b"Content-Type: application/soap+xml;charset=UTF-8\r\n"
    if chunked:
        return head + b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body
for i, p in enumerate(requests):
    body = read(p)
    put("http_front", http(body))
    if i % 8 == 0:
        put("http_front", http(body, auth=False))
        put("http_front", http(body, chunked=True))
# The control port answers a loopback Host only (no token configured).
for line in [b"GET /api/device", b"GET /api/host/certificate-hashes", b"GET /api/journal",
             b"GET /api/faults", b"GET /api/host/provisioning",
             b"GET /", b"GET /?q=dev+1&state=ready&provisioning=post_provisioning",
             b"GET /devices/device", b"GET /assets/dashboard.css"]:
    put("http_front", b"CTL " + line + b" HTTP/1.1\r\nHost: localhost\r\n\r\n")
# The dashboard's forms, as a browser posts them.
for path, body in [
    (b"/devices/device/faults", b"class=&operation=Get&kind=soap_fault&subcode=wsman%3AAccessDenied&times=1"),
    (b"/devices/device/faults", b"kind=delay&ms=5&times=1"),
    (b"/devices/device/faults/1/remove", b""),
    (b"/devices/device/actions/bios-clock", b"mode=set&at=2030-01-01T00%3A00%3A00Z"),
    (b"/devices/device/actions/mebx-password", b"password=Str0ng%21Pass"),
]:
    put("http_front", b"CTL POST " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    put("dashboard_form", body)
for method, path, body in [
    (b"PUT", b"/api/mebx/pki-dns-suffix", b'{"suffix":"example.com"}'),
    (b"PUT", b"/api/device/bios-clock", b'{"mode":"unset"}'),
    (b"POST", b"/api/mebx/certificate-hashes",
     b'{"hash_type":"sha256","hash":"' + b"ab" * 32 + b'","description":"x"}'),
    (b"POST", b"/api/faults", b'{"operation":"CommitChanges","kind":"drop_after_response","times":1}'),
    (b"POST", b"/api/faults", b'{"kind":"drop_before_response","first_on_connection":true,"tls_version":"1.3","times":1}'),
]:
    put("http_front", b"CTL " + method + b" " + path + b" HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

# Digest headers as curl, MeshCentral and rpc-go spell them; the target's
# tracker knows the nonce "A" * 32 and user admin.
nonce = "A" * 32
realm = "Digest:727734D63A1FC0423736E48DA554E462"
for h in [
    f'Digest username="admin", realm="{realm}", nonce="{nonce}", uri="/wsman", cnonce="MTIz", nc=00000001, qop=auth, response="0123456789abcdef0123456789abcdef"',
    f'Digest username="admin",realm="{realm}",nonce="{nonce}",uri="/wsman",qop="auth",nc="00000001",cnonce="x",response="0123456789abcdef0123456789abcdef",algorithm=MD5',
    f'digest  response=""  , username = admin , realm="{realm}", nonce={nonce}, uri=/wsman, qop=auth, nc=1, cnonce="a\\"b"',
    'Basic YWRtaW46UEBzc3cwcmQ=',
]:
    put("digest_header", h.encode())

# Blobs: every base64 DER in the fixtures (certificates, keys, requests),
# under each importer selector (first byte 0..3).
ders = set()
for p in requests + responses:
    for m in re.finditer(rb">\s*(MI[A-Za-z0-9+/=\s]{60,})\s*<", read(p)):
        try:
            ders.add(base64.b64decode(re.sub(rb"\s", b"", m.group(1))))
        except Exception:
            pass
for der in sorted(ders):
    for op in range(4):
        put("blob_importers", bytes([op]) + der)

# APF as an MPS writes it (docs/cira.md message catalogue), big-endian:
# keep-alives and their options, a channel opened to 16992 with an HTTP
# request in it, a window adjust, a close, a disconnect; each split after
# the first byte at a few places.
def u32(v):
    return v.to_bytes(4, "big")
def s(b):
    return u32(len(b)) + b
mps = [
    bytes([208]) + u32(1),
    bytes([209]) + u32(1),
    bytes([210]) + u32(30) + u32(0),
    bytes([90]) + s(b"forwarded-tcpip") + u32(4) + u32(32768) + u32(0xFFFFFFFF)
        + s(b"") + u32(16992) + s(b"1.2.3.4") + u32(1025),
    bytes([94]) + u32(1) + s(b"POST /wsman HTTP/1.1\r\nHost: x:16992\r\nContent-Length: 0\r\n\r\n"),
    bytes([93]) + u32(1) + u32(4096),
    bytes([97]) + u32(1),
    bytes([1]) + u32(11) + b"\0\0",
    bytes([81]) + u32(16992),
    bytes([51]) + s(b"password") + b"\0\0",
]
for cut in (0, 3, 40):
    for m in mps:
        put("apf_parser", bytes([cut]) + m)
    put("apf_parser", bytes([cut]) + b"".join(mps))

# RMCP/ASF (DSP0136): MeshCentral's presence ping, a no-ACK ping, a pong,
# and an ASF message of another type with data.
iana = bytes([0x00, 0x00, 0x11, 0xBE])
for m in [
    bytes([0x06, 0x00, 0x00, 0x06]) + iana + bytes([0x80, 0x00, 0x00, 0x00]),
    bytes([0x06, 0x00, 0xFF, 0x06]) + iana + bytes([0x80, 0x2A, 0x00, 0x00]),
    bytes([0x06, 0x00, 0xFF, 0x06]) + iana + bytes([0x40, 0x2A, 0x00, 0x10]) + bytes(16),
    bytes([0x06, 0x00, 0xFF, 0x06]) + iana + bytes([0x10, 0x01, 0x00, 0x04]) + b"\x01\x02\x03\x04",
]:
    put("rmcp_messages", m)

# IDE-R: a console's answers to the session's first read (its sequence
# numbers continue after the open and the toggle), plus pings and a close.
def le16(v):
    return v.to_bytes(2, "little")
def le32(v):
    return v.to_bytes(4, "little")
def ider(cmd, seq, body=b"", attrs=0):
    return bytes([cmd, 0, 0, attrs]) + le32(seq) + body
def regs(status):
    return bytes([0x87, 0, 3, 0, 0, 0, 0xb0, status])
def data_to_host(seq, data):
    return ider(0x54, seq, b"\0" + le16(len(data)) + b"\0" + bytes(8) + regs(0x50)
                + bytes(6) + data, attrs=2)
console = [
    ider(0x51, 2, bytes(12) + regs(0x50) + bytes(3), attrs=2),
    data_to_host(3, bytes([0, 0, 0, 39, 0, 0, 8, 0])),
    data_to_host(4, b"\x01CD001\x01" + bytes(2040)),
    ider(0x44, 5),
    ider(0x51, 6, bytes(12) + regs(0x51) + bytes([6, 0x28, 0]), attrs=2),
    ider(0x48, 7, bytes([2])),
    ider(0x42, 8),
]
for cut in (0, 8, 60):
    for m in console:
        put("ider_messages", bytes([cut]) + m)
    put("ider_messages", bytes([cut]) + b"".join(console))

# RFB as viewers send it (docs/screen.md): a 3.8 handshake choosing None
# or VNC auth, then SetPixelFormat, SetEncodings, update requests, keys,
# pointer and cut text. Control byte: bit 3 set = handshake already done.
def be16(v):
    return v.to_bytes(2, "big")
viewer = [
    bytes([0, 0, 0, 0, 32, 24, 0, 1]) + be16(255) * 3 + bytes([16, 8, 0, 0, 0, 0]),
    bytes([2, 0]) + be16(3) + u32(0) + u32(16) + (0xFFFFFF21).to_bytes(4, "big"),
    bytes([3, 0]) + be16(0) * 2 + be16(70) + be16(3),
    bytes([3, 1]) + be16(0) * 2 + be16(70) + be16(3),
    bytes([4, 1, 0, 0]) + u32(0x61),
    bytes([5, 1]) + be16(10) + be16(2),
    bytes([6, 0, 0, 0]) + s(b"clipboard"),
]
for control in (0x08, 0x39, 0x0c):
    for m in viewer:
        put("rfb_client_messages", bytes([control]) + m)
    put("rfb_client_messages", bytes([control]) + b"".join(viewer))
put("rfb_client_messages", bytes([0x02]) + b"RFB 003.008\n\x02" + bytes(16) + b"\x01")
put("rfb_client_messages", bytes([0x00]) + b"RFB 003.003\n\x01" + b"".join(viewer))
# Remote media: a CD's descriptors from block 16 on (primary, El Torito
# boot record naming catalog 19, terminator, catalog) and a floppy boot
# sector. The first byte picks the drive (even: CD) and a capacity.
def desc(kind, body=b""):
    d = bytes([kind]) + b"CD001\x01" + body
    return d + bytes(2048 - len(d))
pvd = bytearray(desc(1))
pvd[40:72] = b"AMTEMU_TEST".ljust(32)
boot = bytearray(desc(0, b"EL TORITO SPECIFICATION"))
boot[0x47:0x4B] = (19).to_bytes(4, "little")
cat = bytearray(2048)
cat[0] = 1; cat[30] = 0x55; cat[31] = 0xAA
words = sum(int.from_bytes(cat[i:i+2], "little") for i in range(0, 32, 2))
cat[28:30] = ((-words) & 0xFFFF).to_bytes(2, "little")
cat[32] = 0x88
cd = bytes(pvd) + bytes(boot) + desc(255) + bytes(cat)
put("iso9660_descriptors", bytes([0]) + cd)
put("iso9660_descriptors", bytes([2 | (40 << 2)]) + cd)
fat = bytearray(512)
fat[38] = 0x29; fat[43:54] = b"AMTEMU_FLP "; fat[510] = 0x55; fat[511] = 0xAA
put("iso9660_descriptors", bytes([1]) + bytes(fat))

# The web UI: its pages through the HTTP front, its forms alone.
for path in [b"/", b"/logon.htm", b"/index.htm", b"/events.htm", b"/remote.htm", b"/styles.css",
             b"/../etc/passwd", b"/%2e%2e/index.htm"]:
    put("http_front", b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nAuthorization: @AUTH@\r\n\r\n")
for form in [b"power=8", b"t=&power=2", b"power=8&power=2", b"power=%zz", b"a+b=c%20d&&flag"]:
    put("web_form", form)
    put("http_front", b"POST /RemoteForm HTTP/1.1\r\nHost: x\r\nAuthorization: @AUTH@\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n" % len(form) + form)

for t in sorted(os.listdir("corpus")):
    print(t, len(os.listdir(f"corpus/{t}")))
PY
