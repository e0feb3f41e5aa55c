"""The web client page in a real headless Chromium (Debian's /usr/bin/chromium, driven by
playwright; ``./dev test`` installs it when it can): logging in through the page, talking
with a telnet player, ANSI colours, the password field, input history, scrolling, staying
connected while the engine behind the front crashes and restarts (the default server), and
reconnecting by itself across a single-process hot upgrade (which closes WebSockets). A
screenshot is kept in tests/artifacts/."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from moo.world.loader import DEFAULT_CORE_DIR
from tests.loopback.conftest import MARK, player, wizard
from tests.loopback.test_front import kill_engine
from tests.loopback.upgrade_helpers import upgrade
from tests.server_process import ServerProcess

CHROMIUM = Path("/usr/bin/chromium")
# Without these, Chromium waits on the network this machine does not have.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # git-ignored
RED_WELCOME = r'"\e[1;31mWelcome in red\e[0m to <b>the</b> world!"'  # YAML's \e is ESC


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the web client test needs Debian's chromium "
            "(apt-get install chromium; ./dev test installs it when run as root)"
        )
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield chromium
        await chromium.close()


def red_core_db(folder: Path) -> Path:
    """The starting world with a welcome line in bold red ANSI and an HTML-like tag."""
    core = folder / "core_db"
    shutil.copytree(DEFAULT_CORE_DIR, core)
    objects = core / "objects.yaml"
    text = objects.read_text()
    assert '"Welcome to the world!"' in text
    objects.write_text(text.replace('"Welcome to the world!"', RED_WELCOME))
    return core


async def type_line(page: Page, text: str) -> None:
    await page.locator("#line").fill(text)
    await page.locator("#line").press("Enter")


async def test_the_page_in_chromium(tmp_path: Path, browser: Browser) -> None:
    proc = ServerProcess(
        tmp_path / "data", ssh=False, web=True, extra_config={"core_db": str(red_core_db(tmp_path))}
    ).start()
    assert proc.front_pid is not None  # the default: a front, the engine behind it
    try:
        page = await browser.new_page(viewport={"width": 900, "height": 500})
        await page.goto(f"http://127.0.0.1:{proc.web_port}/")
        output = page.locator("#output")
        status = page.locator("#status")
        await expect(output).to_contain_text("connect <name> <password>")
        await expect(status).to_have_text(f"Connected to 127.0.0.1:{proc.web_port}")

        # ANSI bold red becomes a span with the colour; the tag is text, not markup.
        red = output.locator("span.fg1.b")
        await expect(red).to_have_text("Welcome in red")
        assert await red.evaluate("e => getComputedStyle(e).color") == "rgb(205, 49, 49)"
        assert await red.evaluate("e => getComputedStyle(e).fontWeight") == "700"
        await expect(output).to_contain_text("Welcome in red to <b>the</b> world!")
        assert await output.locator("b").count() == 0
        assert "\x1b" not in await output.inner_text()

        # Logging in through the page; the password is typed in a password field.
        await type_line(page, "create Webby web-secret")
        await expect(output).to_contain_text("*** Connected as Webby ***")
        await type_line(page, "@quit")
        await expect(status).to_contain_text("Press Enter to connect again")
        await type_line(page, "")
        await expect(status).to_have_text(re.compile("^Connected to"))
        await type_line(page, "connect Webby")
        await expect(page.locator("#line")).to_have_attribute("type", "password")
        await type_line(page, "web-secret")
        await expect(output).to_contain_text("*** Connected as Webby ***", timeout=10_000)
        await expect(page.locator("#line")).to_have_attribute("type", "text")
        assert "web-secret" not in await output.inner_text()

        # Talking with a telnet player in the same room.
        telnet, name = await player(proc, "tel")
        await expect(output).to_contain_text(f"{name} has connected.")
        await type_line(page, "say hello, telnet")
        await telnet.expect('Webby says, "hello, telnet"')
        assert await telnet.command("say hello, browser", MARK) == ['You say, "hello, browser"']
        await expect(output).to_contain_text(f'{name} says, "hello, browser"')

        # History: up and down arrows walk the lines typed.
        line = page.locator("#line")
        await line.press("ArrowUp")
        await expect(line).to_have_value("say hello, telnet")
        await line.press("ArrowUp")
        await expect(line).to_have_value("connect Webby")
        await line.press("ArrowDown")
        await line.press("ArrowDown")
        await expect(line).to_have_value("")

        # Enough lines to scroll: the page follows the newest.
        for i in range(40):
            telnet.send_line(f"say line {i}")
        await expect(output).to_contain_text(f'{name} says, "line 39"')
        gap = await output.evaluate("o => o.scrollHeight - o.scrollTop - o.clientHeight")
        assert await output.evaluate("o => o.scrollHeight > o.clientHeight")
        assert gap < 2, gap

        # The engine crashes: the page stays connected, says the world is restarting,
        # and a line typed meanwhile is answered by the next engine.
        kill_engine(proc)
        await expect(output).to_contain_text("The world is restarting", timeout=10_000)
        await type_line(page, "say through the crash")
        await expect(output).to_contain_text('You say, "through the crash"', timeout=30_000)
        await telnet.expect('Webby says, "through the crash"', timeout=30)
        await expect(status).to_have_text(re.compile("^Connected to"))
        assert await output.locator("span.fg1.b").count() == 2  # no welcome again

        shot = tmp_path / "web-client.png"
        await page.screenshot(path=str(shot))
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(shot, ARTIFACTS / shot.name)
        await telnet.close()
    finally:
        proc.stop()


async def test_the_page_reconnects_across_a_single_process_hot_upgrade(
    tmp_path: Path, browser: Browser
) -> None:
    """Without a front, a hot upgrade closes the page's WebSocket (1012); the page says so
    and reconnects by itself to the new process's welcome screen."""
    proc = ServerProcess(
        tmp_path / "data",
        ssh=False,
        web=True,
        extra_config={"core_db": str(red_core_db(tmp_path))},
        flags=("--single-process",),
    ).start()
    try:
        page = await browser.new_page()
        await page.goto(f"http://127.0.0.1:{proc.web_port}/")
        output = page.locator("#output")
        status = page.locator("#status")
        await expect(output).to_contain_text("connect <name> <password>")
        await type_line(page, "create Webby web-secret")
        await expect(output).to_contain_text("*** Connected as Webby ***")
        telnet, _ = await player(proc, "tel")
        wiz = await wizard(proc)
        await upgrade(proc, wiz)
        await expect(output).to_contain_text("*** Disconnected: the server is being upgraded ***")
        await telnet.expect("Webby has disconnected.")
        await expect(status).to_have_text(re.compile("^Connected to"), timeout=15_000)
        # The red welcome line twice: at first, and from the new process.
        await expect(output.locator("span.fg1.b")).to_have_count(2)
        await type_line(page, "connect Webby web-secret")
        await expect(output).to_contain_text("*** Connected as Webby ***")
        await telnet.expect("Webby has connected.")
        for client in (telnet, wiz):
            await client.close()
    finally:
        proc.stop()
