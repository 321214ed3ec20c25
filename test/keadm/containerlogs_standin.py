#!/usr/bin/python3
# A stand-in for edged's read-only /containerLogs endpoint (spec local-apis.md 6.7) until edged's
# HTTP server lands: serves the real CRI log files containerd writes for the test's containers.
# argv: <port-file> <request-log> <pod>=<container log dir> ...
# Writes the bound port to <port-file>; appends each request target to <request-log>.
import http.server
import sys
import time
import urllib.parse

port_file, request_log = sys.argv[1], sys.argv[2]
pods = dict(a.split("=", 1) for a in sys.argv[3:])


def parse(line, timestamps):
    # CRI log format: "<RFC3339Nano> <stream> <P|F> <text>"
    parts = line.rstrip("\n").split(" ", 3)
    if len(parts) < 4:
        return None
    text = parts[3] + ("\n" if parts[2] == "F" else "")
    return (parts[0] + " " + text) if timestamps else text


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        with open(request_log, "a") as f:
            f.write(self.path + "\n")
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        segs = [s for s in url.path.split("/") if s]
        if len(segs) != 4 or segs[0] != "containerLogs" or segs[2] not in pods:
            self.send_response(404)
            self.end_headers()
            return
        path = pods[segs[2]] + "/" + segs[3] + "/0.log"
        ts = q.get("timestamps") == "true"
        try:
            lines = open(path).readlines()
        except OSError:
            self.send_response(404)
            self.end_headers()
            return
        out = [t for t in (parse(l, ts) for l in lines) if t is not None]
        if "tailLines" in q:
            out = out[-int(q["tailLines"]):] if int(q["tailLines"]) > 0 else []
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write("".join(out).encode())
        self.wfile.flush()
        if q.get("follow") != "true":
            return
        seen = len(lines)
        try:
            while True:
                time.sleep(0.1)
                lines = open(path).readlines()
                for l in lines[seen:]:
                    t = parse(l, ts)
                    if t is not None:
                        self.wfile.write(t.encode())
                self.wfile.flush()
                seen = len(lines)
        except (BrokenPipeError, ConnectionResetError):
            return


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
