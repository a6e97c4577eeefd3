"""Screenshots of TensorBoard's HParams dashboard with headless Chromium.

    python benchmarks/tensorboard/screenshot.py URL OUT_PREFIX

Starts `chromium --headless --remote-debugging-port`, opens URL (e.g.
http://127.0.0.1:6006/#hparams), waits for the dashboard, and saves
OUT_PREFIX_table.png; then clicks the dashboard's "parallel coordinates" tab
(found through the shadow roots of TensorBoard's web components) and saves
OUT_PREFIX_parallel_coordinates.png. Speaks the DevTools protocol over a
plain socket (a minimal WebSocket client), so it needs nothing but the
standard library and Chromium.
"""

import base64
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT = 9223
WIDTH, HEIGHT = 1600, 1000

CLICK_TAB = """
(() => {
  const wanted = %s;
  const seen = [];
  function walk(root) {
    for (const el of root.querySelectorAll('*')) {
      if (el.shadowRoot) walk(el.shadowRoot);
      const text = (el.innerText || el.textContent || '').trim().toLowerCase();
      if ((el.tagName === 'PAPER-TAB' || el.getAttribute('role') === 'tab') && text.includes(wanted)) seen.push(el);
    }
  }
  walk(document);
  if (seen.length) { seen[0].click(); return 'clicked ' + seen.length; }
  return 'no tab';
})()
"""


class DevTools:
    """A minimal WebSocket client for one DevTools page target."""

    def __init__(self, ws_url: str):
        host_port, path = ws_url[len("ws://"):].split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                           "Sec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        self.buffer = response.split(b"\r\n\r\n", 1)[1]
        self.next_id = 0

    def _send(self, text: str) -> None:
        payload = text.encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 65536:
            header += bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        else:
            header += bytes([0x80 | 127]) + len(payload).to_bytes(8, "big")
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _read(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def _receive(self) -> str:
        message = b""
        while True:
            first, second = self._read(2)
            length = second & 0x7F
            if length == 126:
                length = int.from_bytes(self._read(2), "big")
            elif length == 127:
                length = int.from_bytes(self._read(8), "big")
            message += self._read(length)
            if first & 0x80:
                return message.decode()

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._receive())
            if reply.get("id") == self.next_id:
                return reply.get("result", reply)


def screenshot(devtools: DevTools, path: str) -> None:
    png = devtools.call("Page.captureScreenshot", format="png")["data"]
    with open(path, "wb") as file:
        file.write(base64.b64decode(png))
    print(f"wrote {path}")


def main(url: str, prefix: str) -> None:
    profile = tempfile.mkdtemp()
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
         f"--remote-debugging-port={PORT}", f"--window-size={WIDTH},{HEIGHT}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(120):
            try:
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{PORT}/json"))
                break
            except OSError:
                time.sleep(1)
        page = next(target for target in targets if target["type"] == "page")
        devtools = DevTools(page["webSocketDebuggerUrl"])
        devtools.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=HEIGHT,
                      deviceScaleFactor=1, mobile=False)
        devtools.call("Page.navigate", url=url)
        time.sleep(float(os.environ.get("WAIT_SECONDS", "40")))
        screenshot(devtools, f"{prefix}_table.png")
        result = devtools.call("Runtime.evaluate", expression=CLICK_TAB % json.dumps("parallel"))
        print("parallel coordinates tab:", result.get("result", {}).get("value"))
        time.sleep(float(os.environ.get("WAIT_SECONDS", "40")) / 2)
        screenshot(devtools, f"{prefix}_parallel_coordinates.png")
    finally:
        browser.terminate()
        browser.wait(timeout=30)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
