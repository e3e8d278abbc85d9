"""Headless Chromium driven over the DevTools protocol (a websocket, no extra package): launched
with the flags test_ui.py uses, plus ``--disable-accelerated-2d-canvas`` (without it headless
Chromium draws chart canvases blank)."""

from __future__ import annotations

import base64
import itertools
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from test_ui import CHROMIUM_FLAGS
from websockets.sync.client import connect

BROWSER_FLAGS = [
    flag for flag in CHROMIUM_FLAGS if not flag.startswith(("--virtual-time-budget", "--window"))
] + ["--disable-accelerated-2d-canvas", "--window-size=1600,2400", "--remote-debugging-port=0"]


def chromium_path() -> str | None:
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


class Browser:
    def __init__(self, profile: Path) -> None:
        chromium = chromium_path()
        assert chromium, "chromium is not installed (make chromium)"
        self.process = subprocess.Popen(
            [chromium, *BROWSER_FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert self.process.poll() is None, "chromium exited at start"
            assert time.monotonic() < deadline, "chromium opened no DevTools port"
            time.sleep(0.2)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
            pages = [page for page in json.load(reply) if page["type"] == "page"]
        self.socket = connect(pages[0]["webSocketDebuggerUrl"], max_size=None).__enter__()
        self.ids = itertools.count(1)
        self.send("Page.enable")
        self.send("Runtime.enable")

    def send(self, method: str, **params: Any) -> dict:
        message_id = next(self.ids)
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv(timeout=180))
            if message.get("id") == message_id:
                assert "error" not in message, (method, message["error"])
                return message.get("result", {})

    def evaluate(self, expression: str) -> Any:
        result = self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 180) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            time.sleep(0.5)

    def open(self, url: str) -> None:
        self.send("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def type_into(self, selector: str, text: str) -> None:
        self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def fetch(self, path: str, method: str = "GET") -> tuple[int, Any]:
        """``path`` fetched by the page (its cookies, its session): status and JSON body."""
        return tuple(
            self.evaluate(
                f"fetch({json.dumps(path)}, {{method: {json.dumps(method)}}}).then("
                "async r => [r.status, await r.text().then(t => { try { return JSON.parse(t) }"
                " catch (e) { return t } })])"
            )
        )

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
