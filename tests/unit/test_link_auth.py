"""The TCP link's handshake codec (moo/net/link_auth.py): bytes in, bytes out, no sockets."""

from __future__ import annotations

import pytest

from moo.errors import ProtocolError
from moo.net.link_auth import (
    HEADER,
    MIN_SECRET,
    EngineAuth,
    FrontAuth,
    LinkRefused,
    frame,
    frame_length,
    mac,
    new_secret,
    parse_secret,
    tls_binding,
)
from moo.protocol import link_auth as msg

SECRET = b"a" * 64
OTHER = b"b" * 64


def payload(data: bytes) -> bytes:
    """A frame's payload, checking its header says its length."""
    assert frame_length(data[:HEADER]) == len(data) - HEADER
    return data[HEADER:]


def handshake(engine: EngineAuth, front: FrontAuth) -> list[bytes]:
    """Run both sides to the end; the frames that crossed, in order."""
    hello = engine.start()
    challenge = front.receive(payload(hello))
    proof = engine.receive(payload(challenge))
    welcome = front.receive(payload(proof))
    assert engine.receive(payload(welcome)) == b""
    return [hello, challenge, proof, welcome]


def test_both_sides_that_know_the_secret_finish_and_the_secret_never_crosses() -> None:
    engine, front = EngineAuth(SECRET), FrontAuth(SECRET)
    frames = handshake(engine, front)
    assert engine.done and front.done
    wire = b"".join(frames)
    assert SECRET not in wire and SECRET[:16] not in wire


def test_a_wrong_secret_is_refused_by_the_front_with_a_reason_the_engine_shows() -> None:
    engine, front = EngineAuth(OTHER), FrontAuth(SECRET)
    challenge = front.receive(payload(engine.start()))
    proof = engine.receive(payload(challenge))
    with pytest.raises(LinkRefused) as refused:
        front.receive(payload(proof))
    assert refused.value.reason == "wrong link secret"
    assert not front.done
    with pytest.raises(LinkRefused, match="the front refused this engine: wrong link secret"):
        engine.receive(payload(refused.value.reply))
    assert not engine.done


def test_a_replayed_engine_transcript_fails_against_a_new_front_nonce() -> None:
    engine = EngineAuth(SECRET)
    hello, _, proof, _ = handshake(engine, FrontAuth(SECRET))
    again = FrontAuth(SECRET)  # a fresh nonce: the recorded proof was over the old one
    again.receive(payload(hello))
    with pytest.raises(LinkRefused):
        again.receive(payload(proof))


def test_a_front_that_does_not_know_the_secret_is_refused_by_the_engine() -> None:
    ne, nf = b"e" * 32, b"f" * 32
    engine, impostor = EngineAuth(SECRET, ne), FrontAuth(OTHER, nf)
    challenge = impostor.receive(payload(engine.start()))
    engine.receive(payload(challenge))
    # It cannot check the proof; say it welcomes the engine anyway, as well as it can.
    forged = frame(msg.AuthWelcome(mac(OTHER, "front", ne, nf)))
    with pytest.raises(LinkRefused, match="does not know this engine's link secret"):
        engine.receive(payload(forged))
    # Nor can it reflect the engine's own proof back as its welcome.
    engine2 = EngineAuth(SECRET)
    challenge2 = FrontAuth(OTHER).receive(payload(engine2.start()))
    reflected = msg.decode(payload(engine2.receive(payload(challenge2))))
    assert isinstance(reflected, msg.AuthProof)
    with pytest.raises(LinkRefused):
        engine2.receive(payload(frame(msg.AuthWelcome(reflected.mac))))


def test_the_proofs_depend_on_role_nonces_and_secret() -> None:
    ne, nf = b"e" * 32, b"f" * 32
    base = mac(SECRET, "engine", ne, nf)
    assert base == mac(SECRET, "engine", ne, nf)
    assert base != mac(SECRET, "front", ne, nf)
    assert base != mac(SECRET, "engine", nf, ne)
    assert base != mac(OTHER, "engine", ne, nf)


def test_a_replayed_front_transcript_fails_against_a_new_engine_nonce() -> None:
    _, challenge, _, welcome = handshake(EngineAuth(SECRET), FrontAuth(SECRET))
    engine = EngineAuth(SECRET)
    engine.start()
    engine.receive(payload(challenge))
    with pytest.raises(LinkRefused):
        engine.receive(payload(welcome))


def test_messages_out_of_order_or_repeated_are_protocol_errors() -> None:
    front = FrontAuth(SECRET)
    with pytest.raises(ProtocolError, match="unexpected AuthProof"):
        front.receive(msg.encode(msg.AuthProof(b"p" * 32)))
    engine = EngineAuth(SECRET)
    hello = payload(engine.start())
    front.receive(hello)
    with pytest.raises(ProtocolError, match="unexpected AuthHello"):
        front.receive(hello)
    with pytest.raises(ProtocolError, match="unexpected AuthWelcome"):
        EngineAuth(SECRET).receive(msg.encode(msg.AuthWelcome(b"w" * 32)))


def test_garbage_and_oversized_frames_are_protocol_errors() -> None:
    with pytest.raises(ProtocolError, match="not a link handshake"):
        frame_length(b"GET ")  # an HTTP client on the engine port
    assert frame_length((msg.MAX_AUTH_FRAME).to_bytes(4, "big")) == msg.MAX_AUTH_FRAME
    with pytest.raises(ProtocolError, match="not a link handshake"):
        FrontAuth(SECRET).receive(b"\x00garbage")
    with pytest.raises(ProtocolError, match="exceeds"):
        FrontAuth(SECRET).receive(b"\x90" * (msg.MAX_AUTH_FRAME + 1))
    short = msg.encode(msg.AuthHello(1, b"n" * 32)).replace(b"n" * 32, b"n" * 8)
    with pytest.raises(ProtocolError):  # a nonce of the wrong length
        FrontAuth(SECRET).receive(short)


def test_another_handshake_version_is_refused_naming_both() -> None:
    hello = msg.encode(msg.AuthHello(99, b"n" * 32))
    with pytest.raises(LinkRefused) as refused:
        FrontAuth(SECRET).receive(hello)
    assert "99" in refused.value.reason and str(msg.LINK_AUTH_VERSION) in refused.value.reason
    with pytest.raises(LinkRefused, match="99"):
        EngineAuth(SECRET).receive(payload(refused.value.reply))
    engine = EngineAuth(SECRET)
    engine.start()
    with pytest.raises(ProtocolError, match="handshake 99"):
        engine.receive(msg.encode(msg.AuthChallenge(99, b"n" * 32)))


def test_every_frame_fits_the_small_pre_auth_limit() -> None:
    engine, front = EngineAuth(SECRET), FrontAuth(SECRET)
    for data in handshake(engine, front):
        assert len(data) - HEADER <= msg.MAX_AUTH_FRAME


def test_a_new_secret_is_64_hex_digits_and_short_secrets_are_refused() -> None:
    text = new_secret()
    key = parse_secret(text, "the file")
    assert len(key) == 64 and int(key, 16) >= 0
    assert new_secret() != text
    assert parse_secret(b"  " + key + b"\r\n", "f") == key
    with pytest.raises(ProtocolError, match=f"holds 5 characters; it needs at least {MIN_SECRET}"):
        parse_secret(b"short\n", "/x/link-secret")
    with pytest.raises(ProtocolError, match="/x/link-secret"):
        parse_secret(b"", "/x/link-secret")


def test_proofs_bound_to_different_tls_certificates_fail_both_ways() -> None:
    """A man in the middle shows the engine his own certificate: the engine's proof covers
    it, so the real front (binding its own) refuses it, and his welcome fails too."""
    front_cert, his_cert = tls_binding(b"front's certificate"), tls_binding(b"his certificate")
    engine, front = EngineAuth(SECRET, binding=his_cert), FrontAuth(SECRET, binding=front_cert)
    challenge = front.receive(payload(engine.start()))
    with pytest.raises(LinkRefused, match="wrong link secret"):
        front.receive(payload(engine.receive(payload(challenge))))
    # The front's welcome over the same nonces, bound to its own certificate, is refused
    # by an engine that was shown another.
    ne, nf = b"e" * 32, b"f" * 32
    front = FrontAuth(SECRET, nf, binding=front_cert)
    honest = EngineAuth(SECRET, ne, binding=front_cert)
    challenge = front.receive(payload(honest.start()))
    welcome = front.receive(payload(honest.receive(payload(challenge))))
    fooled = EngineAuth(SECRET, ne, binding=his_cert)
    fooled.start()
    fooled.receive(payload(challenge))
    with pytest.raises(LinkRefused, match="does not know"):
        fooled.receive(payload(welcome))
    assert honest.receive(payload(welcome)) == b""
