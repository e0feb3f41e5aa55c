"""String builtins: index, rindex, strcmp, strsub, match, rmatch, substitute, crypt,
string_hash, binary_hash, encode_binary, decode_binary.

As LambdaMOO 1.8.1 does them (``list.c``, ``utils.c``):

- ``index``/``rindex``/``strsub`` ignore ASCII case unless their last argument is true (any
  type); ``index(s, "")`` is 1 and ``rindex(s, "")`` is ``length(s) + 1``; ``strsub`` with an
  empty ``what`` is ``E_INVARG``. ``strcmp`` compares exactly: -1, 0 or 1.
- ``match``/``rmatch`` (patterns: ``moo_regex``; searching: ``moo_match``): ``{start, end,
  replacements, subject}`` with nine ``{start, end}`` pairs, ``{0, -1}`` for a group that
  took no part; ``{}`` when nothing matches; ``E_INVARG`` for a pattern LambdaMOO cannot
  compile; ``E_QUOTA`` for a match LambdaMOO would abort (a loop that spins) or one that
  runs too long.
- ``substitute(template, match_result)`` puts ``%0``..``%9`` and ``%%`` back; a malformed
  match result, or any other ``%`` sequence, is ``E_INVARG``.
- ``crypt`` is Unix DES ``crypt(3)`` with a two-character salt (a random one when the salt is
  missing or shorter). Python's ``crypt`` module is deprecated and gone in 3.13, so the DES
  block function comes from libpass (the maintained passlib fork, pure Python); the salt
  decoding is the traditional one (any character, 6 bits of it), so old LambdaMOO databases'
  passwords still verify.
- ``string_hash``, ``binary_hash``: MD5 as 32 uppercase hex digits (``value_hash`` lives
  with the conversions).
- Binary strings: ``~XX`` (two hex digits) stands for a byte, ``~`` itself is ``~7e``;
  ``encode_binary`` writes every byte that is not printable ASCII (or is ``~``) as ``~xx``
  in lowercase; ``decode_binary`` gives runs of printable characters (and tabs) as strings
  and other bytes as ints, or all bytes as ints when its second argument is true. A
  character past ASCII in a MOO string counts as its UTF-8 bytes.
"""

from __future__ import annotations

import random
from typing import Any

from passlib.crypto.des import des_encrypt_int_block  # type: ignore[import-untyped]

from moo.lang import values
from moo.lang.builtins import moo_match
from moo.lang.builtins.conversion import md5_hex
from moo.lang.builtins.pure_args import (
    check_list_size,
    check_string_size,
    fold,
    need_list,
    need_str,
    string_result,
)
from moo.lang.builtins.registry import builtin
from moo.lang.errors import MooRaise
from moo.lang.task_api import TaskApi
from moo.world.values import Err

# ---- searching and replacing ---------------------------------------------------------------


def _case_matters(flag: tuple[Any, ...]) -> bool:
    return bool(flag) and values.is_true(flag[0])


@builtin("index", 2, 3)
def bf_index(task: TaskApi, source: Any, what: Any, *flag: Any) -> int:
    text, part = need_str(source), need_str(what)
    if not _case_matters(flag):
        text, part = fold(text), fold(part)
    return text.find(part) + 1


@builtin("rindex", 2, 3)
def bf_rindex(task: TaskApi, source: Any, what: Any, *flag: Any) -> int:
    text, part = need_str(source), need_str(what)
    if not _case_matters(flag):
        text, part = fold(text), fold(part)
    return text.rfind(part) + 1


@builtin("strcmp", 2)
def bf_strcmp(task: TaskApi, a: Any, b: Any) -> int:
    first, second = need_str(a), need_str(b)
    return (first > second) - (first < second)


@builtin("strsub", 3, 4)
def bf_strsub(task: TaskApi, source: Any, old: Any, new: Any, *flag: Any) -> str:
    subject, what, with_ = need_str(source), need_str(old), need_str(new)
    if not what:
        raise MooRaise(Err.E_INVARG)
    if _case_matters(flag):
        count = subject.count(what)
        check_string_size(task, len(subject) + count * (len(with_) - len(what)))
        return subject.replace(what, with_)
    folded_subject, folded_what = fold(subject), fold(what)
    count = folded_subject.count(folded_what)
    check_string_size(task, len(subject) + count * (len(with_) - len(what)))
    pieces: list[str] = []
    start = 0
    while (found := folded_subject.find(folded_what, start)) >= 0:
        pieces.append(subject[start:found])
        pieces.append(with_)
        start = found + len(what)
    pieces.append(subject[start:])
    return "".join(pieces)


def _do_match(subject: Any, pattern: Any, flag: tuple[Any, ...], reverse: bool) -> list[Any]:
    subject, pattern = need_str(subject), need_str(pattern)
    compiled = moo_match.compile_pattern(pattern, _case_matters(flag))
    if compiled is None:
        raise MooRaise(Err.E_INVARG)
    try:
        found = moo_match.search(compiled, subject, reverse)
    except moo_match.MatchAborted:
        raise MooRaise(Err.E_QUOTA) from None
    if found is None:
        return []
    (start, end), groups = found
    return [start, end, [[a, b] for a, b in groups], subject]


@builtin("match", 2, 3)
def bf_match(task: TaskApi, subject: Any, pattern: Any, *flag: Any) -> list[Any]:
    return _do_match(subject, pattern, flag, False)


@builtin("rmatch", 2, 3)
def bf_rmatch(task: TaskApi, subject: Any, pattern: Any, *flag: Any) -> list[Any]:
    return _do_match(subject, pattern, flag, True)


def _valid_pair(start: Any, end: Any, length: int) -> bool:
    """LambdaMOO's ``!invalid_pair``: ``{0, -1}`` or a span inside the subject."""
    if start.__class__ is not int or end.__class__ is not int:
        return False
    return (start == 0 and end == -1) or (start > 0 and start - 1 <= end <= length)


def _match_spans(subs: Any) -> tuple[str, list[tuple[int, int]]]:
    """``check_subs_list``: the subject and spans 0..9 of a match() result, or E_INVARG."""
    if subs.__class__ is not list or len(subs) != 4:
        raise MooRaise(Err.E_INVARG)
    start, end, groups, subject = subs
    if groups.__class__ is not list or len(groups) != 9 or subject.__class__ is not str:
        raise MooRaise(Err.E_INVARG)
    if not _valid_pair(start, end, len(subject)):
        raise MooRaise(Err.E_INVARG)
    spans = [(start, end)]
    for pair in groups:
        if pair.__class__ is not list or len(pair) != 2:
            raise MooRaise(Err.E_INVARG)
        if not _valid_pair(pair[0], pair[1], len(subject)):
            raise MooRaise(Err.E_INVARG)
        spans.append((pair[0], pair[1]))
    return subject, spans


@builtin("substitute", 2)
def bf_substitute(task: TaskApi, template: Any, subs: Any) -> str:
    template = need_str(template)
    need_list(subs)
    subject, spans = _match_spans(subs)
    limit = task.limits.max_string_length
    pieces: list[str] = []
    size = 0
    position = 0
    while position < len(template):
        ch = template[position]
        position += 1
        if ch == "%":
            code = template[position : position + 1]
            position += 1
            if code == "%":
                piece = "%"
            elif code.isascii() and code.isdigit():
                start, end = spans[int(code)]
                piece = subject[start - 1 : end] if start > 0 else ""
            else:
                raise MooRaise(Err.E_INVARG)
        else:
            piece = ch
        size += len(piece)
        if size > limit:
            raise MooRaise(Err.E_QUOTA)
        pieces.append(piece)
    return "".join(pieces)


# ---- hashes and passwords ------------------------------------------------------------------

_SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789./"
_CRYPT64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_salt_random = random.Random()


def _salt_bits(ch: str) -> int:
    """The traditional ``ascii_to_bin`` of crypt(3), low 6 bits (for any character)."""
    code = ord(ch)
    if code >= ord("a"):
        value = code - 59
    elif code >= ord("A"):
        value = code - 53
    else:
        value = code - ord(".")
    return value & 0x3F


def des_crypt(password: str, salt: str) -> str:
    """Unix DES ``crypt(password, salt)``: the 2 salt characters and 11 of hash."""
    key = 0
    for i, byte in enumerate(password.encode("utf-8", "surrogatepass")[:8]):
        key |= (byte & 0x7F) << (57 - i * 8)
    salt_value = _salt_bits(salt[0]) | (_salt_bits(salt[1]) << 6)
    block = int(des_encrypt_int_block(key, 0, salt_value, 25))
    block <<= 2  # 64 bits as 11 six-bit digits, most significant first
    digits = [_CRYPT64[(block >> shift) & 0x3F] for shift in range(60, -1, -6)]
    return salt[:2] + "".join(digits)


@builtin("crypt", 1, 2)
def bf_crypt(task: TaskApi, password: Any, *salt: Any) -> str:
    password = need_str(password)
    given = need_str(salt[0]) if salt else ""
    if len(given) < 2:
        given = _salt_random.choice(_SALT_CHARS) + _salt_random.choice(_SALT_CHARS)
    return des_crypt(password, given[:2])


@builtin("string_hash", 1)
def bf_string_hash(task: TaskApi, text: Any) -> str:
    return md5_hex(need_str(text).encode("utf-8", "surrogatepass"))


# ---- binary strings ------------------------------------------------------------------------

_HEX = "0123456789abcdefABCDEF"


def binary_to_bytes(text: str) -> bytes | None:
    """LambdaMOO's ``binary_to_raw_bytes``: None when a ``~`` is not followed by 2 hex digits."""
    out = bytearray()
    position = 0
    while position < len(text):
        ch = text[position]
        if ch != "~":
            out += ch.encode("utf-8", "surrogatepass")
            position += 1
            continue
        digits = text[position + 1 : position + 3]
        if len(digits) != 2 or digits[0] not in _HEX or digits[1] not in _HEX:
            return None
        out.append(int(digits, 16))
        position += 3
    return bytes(out)


def bytes_to_binary(data: bytes) -> str:
    """LambdaMOO's ``raw_bytes_to_binary``: printable ASCII but ``~`` as is, else ``~xx``."""
    return "".join(
        chr(byte) if 0x20 <= byte <= 0x7E and byte != 0x7E else f"~{byte:02x}" for byte in data
    )


def _is_text_byte(byte: int) -> bool:
    return 0x20 <= byte <= 0x7E or byte == 0x09  # isgraph, space or tab


@builtin("decode_binary", 1, 2)
def bf_decode_binary(task: TaskApi, text: Any, *fully: Any) -> list[Any]:
    data = binary_to_bytes(need_str(text))
    if data is None:
        raise MooRaise(Err.E_INVARG)
    if fully and values.is_true(fully[0]):
        check_list_size(task, len(data))
        return list(data)
    result: list[Any] = []
    run: list[str] = []
    for byte in data:
        if _is_text_byte(byte):
            run.append(chr(byte))
            continue
        if run:
            result.append("".join(run))
            run = []
        result.append(byte)
    if run:
        result.append("".join(run))
    check_list_size(task, len(result))
    return result


def _encode(value: Any, memo: dict[int, bytes], limit: int) -> bytes | None:
    """``encode_binary``'s bytes for ``value``, None for a value it refuses (``E_INVARG``);
    ``E_QUOTA`` past ``limit`` bytes. A list shared many times over is encoded once."""
    cls = value.__class__
    if cls is int:
        return bytes([value]) if 0 <= value < 256 else None
    if cls is str:
        return bytes(value.encode("utf-8", "surrogatepass"))
    if cls is not list:
        return None
    known = memo.get(id(value))
    if known is None:
        parts = []
        size = 0
        for item in value:
            part = _encode(item, memo, limit)
            if part is None:
                return None
            size += len(part)
            if size > limit:
                raise MooRaise(Err.E_QUOTA)
            parts.append(part)
        known = memo[id(value)] = b"".join(parts)
    return known


@builtin("encode_binary", 0, None)
def bf_encode_binary(task: TaskApi, *args: Any) -> str:
    data = _encode(list(args), {}, task.limits.max_string_length)
    if data is None:
        raise MooRaise(Err.E_INVARG)
    return string_result(task, bytes_to_binary(data))


@builtin("binary_hash", 1)
def bf_binary_hash(task: TaskApi, text: Any) -> str:
    data = binary_to_bytes(need_str(text))
    if data is None:
        raise MooRaise(Err.E_INVARG)
    return md5_hex(data)
