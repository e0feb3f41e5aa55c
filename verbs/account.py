"""Your own account: @quit, @password, @sshkey."""

from __future__ import annotations

import base64
import binascii

from moo.commands.context import VerbContext
from moo.commands.parser import Command
from moo.errors import VerbError
from moo.world.verb_registry import verb

KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)
MAX_KEYS = 16


@verb("$player", "@quit quit", "none none none")
def quit_(ctx: VerbContext, cmd: Command) -> None:
    ctx.flush()
    ctx.host.disconnect(ctx.player, "*** Disconnected ***")


@verb("$player", "@password", "any any any")
def password(ctx: VerbContext, cmd: Command) -> None:
    if len(cmd.args) != 2:
        raise VerbError("Usage: @password <old password> <new password>")
    old, new = cmd.args
    if len(new) < 4:
        raise VerbError("Please choose a password of at least 4 characters.")
    ctx.host.change_password(ctx.player, old, new)


def check_public_key(text: str) -> str:
    """An OpenSSH public key line, checked, as "type base64 [comment]"; VerbError if bad."""
    parts = text.split()
    if len(parts) < 2 or parts[0] not in KEY_TYPES:
        raise VerbError(
            "That does not look like an SSH public key: paste one line such as "
            "'ssh-ed25519 AAAAC3... you@host' (from ~/.ssh/id_ed25519.pub)."
        )
    try:
        blob = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise VerbError("The key's base64 part is damaged; paste the whole line again.") from None
    declared = parts[0].encode()
    if blob[4 : 4 + len(declared)] != declared or int.from_bytes(blob[:4], "big") != len(declared):
        raise VerbError(f"The key data does not match its type {parts[0]}.")
    return " ".join(parts[:3])


@verb("$player", "@sshkey @sshkeys", "any any any")
def sshkey(ctx: VerbContext, cmd: Command) -> None:
    """``@sshkey add <key>`` / ``list`` / ``remove <n>``."""
    action, _, rest = cmd.argstr.partition(" ")
    keys = [str(k) for k in ctx.world.prop(ctx.player, "ssh_keys", [])]
    action = action.lower() or "list"
    if action == "list":
        if not keys:
            ctx.tell("You have no SSH keys. Add one with: @sshkey add <public key line>")
        for number, key in enumerate(keys, 1):
            kind, data, *comment = key.split()
            ctx.tell(f"{number}. {kind} ...{data[-12:]} {' '.join(comment)}".rstrip())
    elif action == "add":
        key = check_public_key(rest)
        if any(k.split()[:2] == key.split()[:2] for k in keys):
            raise VerbError("You already have that key.")
        if len(keys) >= MAX_KEYS:
            raise VerbError(f"You may have at most {MAX_KEYS} keys; remove one first.")
        ctx.world.set_prop(ctx.player, "ssh_keys", [*keys, key])
        ctx.tell("Key added. You can now log in with: ssh <host> -p <port> -l <your name>")
    elif action in ("remove", "rm", "delete"):
        if not rest.strip().isdigit() or not 1 <= int(rest) <= len(keys):
            raise VerbError(f"Usage: @sshkey remove <number from 1 to {len(keys)}>")
        del keys[int(rest) - 1]
        ctx.world.set_prop(ctx.player, "ssh_keys", keys)
        ctx.tell("Key removed.")
    else:
        raise VerbError("Usage: @sshkey add <key> | @sshkey list | @sshkey remove <n>")


@verb("$player", "@terminal", "none none none")
def terminal(ctx: VerbContext, cmd: Command) -> None:
    """What the server knows of your connection: how you came, window size, terminal."""
    ctx.tell(ctx.host.terminal_info(ctx.player) or "You are not connected.")
