"""A replacement whose code does not even import."""

import moo_release_that_was_never_installed  # type: ignore[import-not-found]  # noqa: F401
