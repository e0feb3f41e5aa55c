"""The TLS stage (moo/net/tls.py) against a real client ``SSLObject``, bytes passed by hand
(no sockets: the stage does no I/O), and the self-signed pair (moo/net/tls_keys.py)."""

from __future__ import annotations

import contextlib
import ssl
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from moo.config import Config, Tls
from moo.errors import MooError
from moo.net.tls import NotTls, TlsError, TlsStage, server_context
from moo.net.tls_keys import ensure_self_signed, tls_context


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    assert ensure_self_signed(cert, key, "moo.example")
    return cert, key


class Client:
    """A TLS client over memory buffers, verifying the server against ``cert``."""

    def __init__(self, cert: Path, hostname: str = "localhost") -> None:
        context = ssl.create_default_context(cafile=cert)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=hostname)

    def handshake(self, stage: TlsStage) -> bytes:
        """Run the handshake through ``stage``; the plaintext the stage produced."""
        plain = b""
        for _ in range(10):
            try:
                self.tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                plain += stage.feed(self.outgoing.read())
                self.incoming.write(stage.take_output())
        else:
            raise AssertionError("the handshake did not finish")
        plain += stage.feed(self.outgoing.read())  # the client's Finished
        self.incoming.write(stage.take_output())  # TLS 1.3 session tickets, waiting text
        return plain

    def read(self, data: bytes) -> bytes:
        self.incoming.write(data)
        out = b""
        while True:
            try:
                out += self.tls.read(65536)
            except ssl.SSLWantReadError:
                return out

    def send(self, data: bytes) -> bytes:
        self.tls.write(data)
        return self.outgoing.read()


def stage_for(pair: tuple[Path, Path], **kwargs: int) -> TlsStage:
    return TlsStage(server_context(*pair), **kwargs)


def test_text_written_before_the_handshake_waits_then_both_ways_work(
    pair: tuple[Path, Path],
) -> None:
    stage = stage_for(pair)
    assert stage.encrypt(b"Welcome!\r\n") == b""  # no handshake yet: it waits inside
    client = Client(pair[0])
    assert client.handshake(stage) == b""
    assert stage.handshaken
    assert client.read(b"") == b"Welcome!\r\n"
    assert stage.feed(client.send(b"look\r\n")) == b"look\r\n"
    assert client.read(stage.encrypt(b"You see a room.\r\n")) == b"You see a room.\r\n"


def test_the_certificate_names_loopback_and_the_configured_host(pair: tuple[Path, Path]) -> None:
    for name in ("localhost", "127.0.0.1", "::1", "moo.example"):
        Client(pair[0], name).handshake(stage_for(pair))
    with pytest.raises(ssl.SSLCertVerificationError):
        Client(pair[0], "elsewhere.example").handshake(stage_for(pair))


def test_plain_telnet_is_not_tls(pair: tuple[Path, Path]) -> None:
    with pytest.raises(NotTls):
        stage_for(pair).feed(b"connect wizard secret\r\n")


def test_garbage_after_a_handshake_header_fails_the_handshake_with_an_alert(
    pair: tuple[Path, Path],
) -> None:
    stage = stage_for(pair)
    with pytest.raises(TlsError, match="handshake failed") as caught:
        stage.feed(b"\x16\x03\x01\x00\x05" + b"\xff" * 200)
    assert not isinstance(caught.value, NotTls)
    assert stage.take_output()[:1] == b"\x15"  # a TLS alert record for the client


def test_a_damaged_record_after_the_handshake_is_an_error(pair: tuple[Path, Path]) -> None:
    stage = stage_for(pair)
    client = Client(pair[0])
    client.handshake(stage)
    record = bytearray(client.send(b"say hi\r\n"))
    record[-1] ^= 0xFF  # the authentication tag no longer matches
    with pytest.raises(TlsError, match="bad TLS record"):
        stage.feed(bytes(record))


def test_close_notify_both_ways(pair: tuple[Path, Path]) -> None:
    stage = stage_for(pair)
    client = Client(pair[0])
    client.handshake(stage)
    client.incoming.write(stage.close_notify())
    assert client.tls.read(100) == b""  # the end of the stream, not "wait for more"
    client.tls.unwrap()  # completes at once: the server's close_notify has arrived
    assert stage.encrypt(b"after the close") == b""  # nothing follows close_notify

    stage = stage_for(pair)
    client = Client(pair[0])
    client.handshake(stage)
    last = client.send(b"quit\r\n")
    with contextlib.suppress(ssl.SSLWantReadError):  # it would wait for the server's
        client.tls.unwrap()
    assert stage.feed(last + client.outgoing.read()) == b"quit\r\n"
    assert stage.closed


def test_text_waiting_for_a_handshake_is_capped(pair: tuple[Path, Path]) -> None:
    stage = stage_for(pair, max_pending=100)
    stage.encrypt(b"x" * 80)
    stage.encrypt(b"y" * 80)
    client = Client(pair[0])
    client.handshake(stage)
    assert client.read(b"") == b"x" * 80 + b"y" * 20


def test_a_self_signed_pair_is_made_once_owner_only(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    assert ensure_self_signed(cert, key, "127.0.0.1")
    for path in (cert, key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    before = cert.read_bytes()
    assert not ensure_self_signed(cert, key, "127.0.0.1")
    assert cert.read_bytes() == before
    key.unlink()
    assert not ensure_self_signed(cert, key, "127.0.0.1"), "one file alone is never replaced"
    assert not key.exists()


def test_tls_context_makes_the_default_pair_in_the_data_dir(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    assert isinstance(tls_context(config), ssl.SSLContext)
    assert (tmp_path / "tls-cert.pem").is_file() and (tmp_path / "tls-key.pem").is_file()


def test_tls_context_refuses_a_missing_or_unusable_file_naming_it(tmp_path: Path) -> None:
    config = Config(data_dir=tmp_path)
    tls_context(config)
    (tmp_path / "tls-key.pem").unlink()
    with pytest.raises(MooError, match=r"tls.key: .*tls-key.pem does not exist \(remove"):
        tls_context(config)

    configured = replace(config, tls=Tls(cert=tmp_path / "mine.pem", key=tmp_path / "mine.key"))
    with pytest.raises(MooError, match=r"tls.cert: .*mine.pem does not exist$"):
        tls_context(configured)
    assert not (tmp_path / "mine.pem").exists(), "configured paths are never generated"

    (tmp_path / "mine.pem").write_text("not a certificate\n")
    (tmp_path / "mine.key").write_text("not a key\n")
    with pytest.raises(MooError, match=r"tls: cannot use .*mine.pem with .*mine.key"):
        tls_context(configured)
