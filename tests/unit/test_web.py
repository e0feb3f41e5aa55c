"""The web transport's pure parts: framing typed lines, answering plain HTTP requests, the
frame limit, the ``--web`` flag (the page itself is tested in Chromium:
tests/loopback/test_web_browser.py)."""

from __future__ import annotations

import pytest
from websockets.datastructures import Headers
from websockets.http11 import Request

from moo.cli import build_parser, serve_config
from moo.config import Limits, Listen
from moo.errors import ConfigError
from moo.net.web import http_response, load_assets, max_frame_bytes, split_lines


@pytest.mark.parametrize(
    ("frame", "lines"),
    [
        ("look", ["look"]),
        ("", [""]),  # Enter on an empty line is a line
        ("look\n", ["look"]),
        ("say a\r\nsay b\rsay c\n\n", ["say a", "say b", "say c", ""]),
        ("say \x1b[31mred\x1b[0m\x07", ["say [31mred[0m"]),
        ("say a\tb\x7f", ["say a b"]),
        ("say é ✓", ["say é ✓"]),
    ],
)
def test_a_frame_is_split_into_lines_without_control_characters(
    frame: str, lines: list[str]
) -> None:
    assert split_lines(frame) == lines


def request(path: str, *headers: tuple[str, str]) -> Request:
    return Request(path, Headers([("Host", "example"), *headers]))


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/?reconnect=1", "text/html; charset=utf-8"),
        ("/client.js", "text/javascript; charset=utf-8"),
        ("/client.css", "text/css; charset=utf-8"),
    ],
)
def test_the_page_and_its_files_are_answered(path: str, kind: str) -> None:
    assets = load_assets()
    response = http_response(assets, request(path))
    assert response is not None and response.status_code == 200
    assert response.headers["Content-Type"] == kind
    assert response.headers["Content-Length"] == str(len(response.body))
    assert response.body == assets[path.split("?")[0]].body
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path", ["/index.html", "/../moo/cli.py", "/client.js/", "//client.js", "/favicon.ico"]
)
def test_any_other_path_is_not_found(path: str) -> None:
    response = http_response(load_assets(), request(path))
    assert response is not None
    assert (response.status_code, response.body) == (404, b"Not found\n")


def test_the_websocket_path_goes_on_to_the_handshake() -> None:
    assert http_response(load_assets(), request("/ws")) is None
    assert http_response(load_assets(), request("/ws?x=1")) is None
    # The page's own origin, by http or (behind a TLS proxy) https.
    for origin in ("http://example", "https://EXAMPLE"):
        assert http_response(load_assets(), request("/ws", ("Origin", origin))) is None


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://example:8080", "null", "http://example.evil"]
)
def test_a_websocket_opened_by_another_sites_page_is_refused(origin: str) -> None:
    response = http_response(load_assets(), request("/ws", ("Origin", origin)))
    assert response is not None
    assert (response.status_code, response.body) == (403, b"Cross-origin WebSocket refused\n")


def test_the_frame_limit_holds_16_lines_and_at_least_64_kib() -> None:
    assert max_frame_bytes(Limits()) == 65536
    assert max_frame_bytes(Limits(max_line_bytes=100)) == 65536
    assert max_frame_bytes(Limits(max_line_bytes=10_000)) == 160_000


def test_the_web_flag() -> None:
    def web(*flags: str) -> Listen:
        return serve_config(build_parser().parse_args(["serve", *flags])).web

    assert web() == Listen("127.0.0.1", 7780, False)
    assert web("--web", "0.0.0.0:8080") == Listen("0.0.0.0", 8080, True)
    assert web("--web", "off") == Listen("127.0.0.1", 7780, False)
    with pytest.raises(ConfigError, match=r"^--web: expected HOST:PORT"):
        web("--web", "8080")
