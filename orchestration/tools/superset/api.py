"""A client of Superset's REST API (``/api/v1``): logs in as a user (JWT), carries the CSRF token
and the session cookie on writes, and turns an error reply into one line."""

from __future__ import annotations

import json
from typing import Any

import requests

TIMEOUT_S = 120


class ApiError(RuntimeError):
    """Superset refused a request; the message names the method, the path and its reply."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def rison_list(filters: list[tuple[str, str, Any]], page_size: int = 100) -> str:
    """A ``q`` argument (rison) with ``filters`` (col, opr, value) for the list endpoints."""
    parts = []
    for col, opr, value in filters:
        rendered = f"'{value}'" if isinstance(value, str) else str(value)
        parts.append(f"(col:{col},opr:{opr},value:{rendered})")
    return f"(filters:!({','.join(parts)}),page:0,page_size:{page_size})"


class Api:
    def __init__(self, url: str, username: str, password: str) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        reply = self.session.post(
            f"{self.url}/api/v1/security/login",
            json={"username": username, "password": password, "provider": "db", "refresh": True},
            timeout=TIMEOUT_S,
        )
        if reply.status_code != 200:
            raise ApiError(f"Superset login as {username} failed: HTTP {reply.status_code}")
        self.session.headers["Authorization"] = f"Bearer {reply.json()['access_token']}"
        token = self.request("GET", "/api/v1/security/csrf_token/")["result"]
        self.session.headers["X-CSRFToken"] = token
        self.session.headers["Referer"] = self.url

    def request(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        reply = self.session.request(
            method,
            f"{self.url}{path}",
            json=body,
            params=params or None,
            timeout=TIMEOUT_S,
        )
        if reply.status_code >= 400:
            text = reply.text.strip().replace("\n", " ")[:300]
            raise ApiError(f"{method} {path}: HTTP {reply.status_code} {text}", reply.status_code)
        try:
            return reply.json()
        except ValueError:
            return {}

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, **params)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body)

    def find(self, resource: str, filters: list[tuple[str, str, Any]]) -> list[dict]:
        """Rows of ``/api/v1/<resource>/`` matching every filter."""
        return self.get(f"/api/v1/{resource}/", q=rison_list(filters))["result"]

    def find_one(self, resource: str, col: str, value: Any) -> dict | None:
        rows = [row for row in self.find(resource, [(col, "eq", value)]) if row.get(col) == value]
        return rows[0] if rows else None

    def count(self, resource: str) -> int:
        return int(self.get(f"/api/v1/{resource}/", q="(page:0,page_size:1)")["count"])


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
