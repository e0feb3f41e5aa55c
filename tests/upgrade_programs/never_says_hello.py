"""A replacement that hangs while loading: it never says HELLO."""

import time

from _fake import control

sock = control()
time.sleep(120)
