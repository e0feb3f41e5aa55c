"""A replacement that hangs while loading: it never says HELLO."""

from _fake import control, wait_until_dropped

wait_until_dropped(control())
