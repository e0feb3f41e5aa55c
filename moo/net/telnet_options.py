"""Telnet option negotiation: RFC 1143's Q method per option, and what we accept. No I/O.

This is step 2 of the telnet codec's pipeline (``moo/net/telnet_codec.py``): the codec's
IAC state machine hands each WILL/WONT/DO/DONT it reads to ``OptionNegotiation.receive``
and queues the bytes it returns; the codec's own requests go through ``start`` (WILL SGA,
DO NAWS, DO TTYPE) and ``set_echo`` (WILL/WONT ECHO for password entry).

Option negotiation (WILL/WONT/DO/DONT) follows RFC 1143's Q method: we never answer a
message that confirms a state we are already in, so negotiation cannot loop. Each option
keeps, for our side and for his, a state (no, yes, wantno, wantyes) and a queue bit.

What we accept: on our side SGA, MSSP, GMCP and MCCP2 (offered at the start; a client that
wants them says DO), and ECHO only while the codec wants to echo; on the client's side NAWS, TTYPE
and SGA. Everything else is refused. When the client agrees to
TTYPE we also ask for its name (``IAC SB TTYPE SEND IAC SE``).

Only options out of the neutral state are kept. ``get_state`` / ``from_state`` carry them
as the ``options`` entry of the codec's JSON-safe state, the states spelled as names
(validated as ``OptionState`` by the codec's ``from_state``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal, get_args

import msgspec

# Telnet commands (RFC 854) used in negotiation, and the options we speak.
IAC: Final = 255
DONT: Final = 254
DO: Final = 253
WONT: Final = 252
WILL: Final = 251
SB: Final = 250
SE: Final = 240

ECHO: Final = 1
SGA: Final = 3
TTYPE: Final = 24
NAWS: Final = 31
MSSP: Final = 70  # MUD Server Status Protocol: crawlers ask for the server's facts
MCCP2: Final = 86  # MUD Client Compression Protocol v2: our output as one zlib stream
GMCP: Final = 201  # Generic MUD Communication Protocol: "Package.Message <json>" both ways
TTYPE_IS: Final = 0
TTYPE_SEND: Final = 1

# RFC 1143 Q method: per option and side, a state and a queue bit.
QName = Literal["no", "yes", "wantno", "wantyes"]
QueueName = Literal["empty", "opposite"]
_NO, _YES, _WANTNO, _WANTYES = range(4)
_Q_NAMES: Final[tuple[str, ...]] = get_args(QName)
_EMPTY, _OPPOSITE = 0, 1
_QUEUE_NAMES: Final[tuple[str, ...]] = get_args(QueueName)
_US, _HIM = 0, 2  # index of the side's state in an option's [us, usq, him, himq]
_NEUTRAL: Final = (_NO, _EMPTY, _NO, _EMPTY)
_Q_INDEX: Final = {name: i for i, name in enumerate(_Q_NAMES)}
_QUEUE_INDEX: Final = {name: i for i, name in enumerate(_QUEUE_NAMES)}


class OptionState(msgspec.Struct, frozen=True):
    """One option's entry in the hand-over state (``get_state``), as validated."""

    us: QName
    us_queue: QueueName
    him: QName
    him_queue: QueueName


class OptionNegotiation:
    """The Q-method state of every option on one connection, and our accept/refuse policy."""

    __slots__ = ("_exported", "_options", "echo_wanted")

    def __init__(self) -> None:
        self._options: dict[int, list[int]] = {}  # only options not in the neutral state
        self.echo_wanted = False
        # get_state()'s answer until an option changes: a hot upgrade exports every
        # connection twice, and options settle once the client has connected.
        self._exported: dict[str, dict[str, str]] | None = None

    def start(self) -> bytes:
        """Our opening requests: WILL SGA, DO NAWS, DO TTYPE, WILL MSSP, GMCP and MCCP2."""
        return (
            self.request(SGA, _US, True)
            + self.request(NAWS, _HIM, True)
            + self.request(TTYPE, _HIM, True)
            + self.request(MSSP, _US, True)
            + self.request(GMCP, _US, True)
            + self.request(MCCP2, _US, True)
        )

    def enabled_here(self, opt: int) -> bool:
        """True when option ``opt`` is on, on our side (the client said DO)."""
        return self._side(opt, _US)[0] == _YES

    def set_echo(self, server_echoes: bool) -> bytes:
        """Offer WILL ECHO (True) or WONT ECHO (False); the bytes to send, maybe b""."""
        self.echo_wanted = server_echoes
        return self.request(ECHO, _US, server_echoes)

    @property
    def echo_off(self) -> bool:
        """True while we have offered WILL ECHO and the client has not refused it."""
        return self.echo_wanted and self._side(ECHO, _US)[0] != _NO

    def _side(self, opt: int, side: int) -> tuple[int, int]:
        states = self._options.get(opt, _NEUTRAL)
        return states[side], states[side + 1]

    def _set_side(self, opt: int, side: int, state: int, queue: int) -> None:
        self._exported = None
        states = list(self._options.get(opt, _NEUTRAL))
        states[side] = state
        states[side + 1] = queue
        if tuple(states) == _NEUTRAL:
            self._options.pop(opt, None)
        else:
            self._options[opt] = states

    def _accepts(self, opt: int, side: int) -> bool:
        if side == _US:
            return opt in (SGA, MSSP, GMCP, MCCP2) or (opt == ECHO and self.echo_wanted)
        return opt in (NAWS, TTYPE, SGA)

    def receive(self, opt: int, verb: int) -> bytes:
        """The peer sent IAC <verb> <opt>; update the option, return our reply (maybe b"")."""
        side = _HIM if verb in (WILL, WONT) else _US
        yes = bytes((IAC, DO if side == _HIM else WILL, opt))
        no = bytes((IAC, DONT if side == _HIM else WONT, opt))
        state, queue = self._side(opt, side)
        was = state
        reply = b""
        if verb in (WILL, DO):
            if state == _NO:
                if self._accepts(opt, side):
                    state, reply = _YES, yes
                else:
                    reply = no
            elif state == _WANTNO:  # they broke protocol (answered our refusal with WILL/DO)
                state, queue = (_NO, _EMPTY) if queue == _EMPTY else (_YES, _EMPTY)
            elif state == _WANTYES:
                if queue == _EMPTY:
                    state = _YES
                else:
                    state, queue, reply = _WANTNO, _EMPTY, no
        elif state == _YES:
            state, reply = _NO, no
        elif state == _WANTNO:
            if queue == _EMPTY:
                state = _NO
            else:
                state, queue, reply = _WANTYES, _EMPTY, yes
        elif state == _WANTYES:
            state, queue = _NO, _EMPTY
        self._set_side(opt, side, state, queue)
        if opt == TTYPE and side == _HIM and state == _YES and was != _YES:
            reply += bytes((IAC, SB, TTYPE, TTYPE_SEND, IAC, SE))
        return reply

    def request(self, opt: int, side: int, enable: bool) -> bytes:
        """We want <opt> on/off on <side>; return what to send (maybe b"")."""
        state, queue = self._side(opt, side)
        reply = b""
        if enable:
            if state == _NO:
                state = _WANTYES
                reply = bytes((IAC, DO if side == _HIM else WILL, opt))
            elif state == _WANTNO and queue == _EMPTY:
                queue = _OPPOSITE
            elif state == _WANTYES and queue == _OPPOSITE:
                queue = _EMPTY
        else:
            if state == _YES:
                state = _WANTNO
                reply = bytes((IAC, DONT if side == _HIM else WONT, opt))
            elif state == _WANTNO and queue == _OPPOSITE:
                queue = _EMPTY
            elif state == _WANTYES and queue == _EMPTY:
                queue = _OPPOSITE
        self._set_side(opt, side, state, queue)
        return reply

    # -- state hand-over -------------------------------------------------------------------

    def get_state(self) -> dict[str, dict[str, str]]:
        """The ``options`` entry of the codec's state: option number -> named states
        (the same object while nothing changes: the caller must not modify it)."""
        if self._exported is None:
            self._exported = {
                str(opt): {
                    "us": _Q_NAMES[s[0]],
                    "us_queue": _QUEUE_NAMES[s[1]],
                    "him": _Q_NAMES[s[2]],
                    "him_queue": _QUEUE_NAMES[s[3]],
                }
                for opt, s in sorted(self._options.items())
            }
        return self._exported

    @classmethod
    def from_state(cls, options: Mapping[str, OptionState]) -> OptionNegotiation:
        """Rebuild from ``get_state()`` once validated (``echo_wanted`` starts False);
        raises ValueError for an option that is not a number."""
        negotiation = cls()
        for key, side in options.items():
            if not key.isdigit() or int(key) > 255:
                raise ValueError(f"telnet state: bad 'options' entry {key!r}")
            states = [
                _Q_INDEX[side.us],
                _QUEUE_INDEX[side.us_queue],
                _Q_INDEX[side.him],
                _QUEUE_INDEX[side.him_queue],
            ]
            if tuple(states) != _NEUTRAL:
                negotiation._options[int(key)] = states
        return negotiation
