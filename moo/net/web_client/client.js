// The web client (moo/net/web.py serves it): one WebSocket to /ws.
// Server -> page: JSON frames, {"text": "..."} (with ANSI SGR colour codes) and
// {"hidden": true|false} (hide what is typed: a password). Page -> server: one line a frame.
// Text only ever reaches the page through textContent: nothing the server sends is HTML.
"use strict";
(() => {
  const output = document.getElementById("output");
  const status = document.getElementById("status");
  const form = document.getElementById("prompt");
  const input = document.getElementById("line");
  const MAX_NODES = 5000; // scrollback, in runs of text
  const MAX_RETRY_MS = 30000;

  // ---------------------------------------------------------------- ANSI SGR to spans
  const style = { fg: null, bg: null, b: false, i: false, u: false };

  function resetStyle() {
    Object.assign(style, { fg: null, bg: null, b: false, i: false, u: false });
  }

  function applySgr(params) {
    const codes = params === "" ? [0] : params.split(";").map((p) => parseInt(p || "0", 10));
    for (let k = 0; k < codes.length; k++) {
      const c = codes[k];
      if (c === 0) resetStyle();
      else if (c === 1) style.b = true;
      else if (c === 3) style.i = true;
      else if (c === 4) style.u = true;
      else if (c === 22) style.b = false;
      else if (c === 23) style.i = false;
      else if (c === 24) style.u = false;
      else if (c >= 30 && c <= 37) style.fg = c - 30;
      else if (c === 39) style.fg = null;
      else if (c >= 40 && c <= 47) style.bg = c - 40;
      else if (c === 49) style.bg = null;
      else if (c >= 90 && c <= 97) style.fg = c - 90 + 8;
      else if (c >= 100 && c <= 107) style.bg = c - 100 + 8;
      else if (c === 38 || c === 48) {
        // 256 colours (5;n) keep their first 16; true colour (2;r;g;b) is skipped.
        if (codes[k + 1] === 5) {
          const n = codes[k + 2];
          if (n < 16) style[c === 38 ? "fg" : "bg"] = n;
          k += 2;
        } else if (codes[k + 1] === 2) {
          k += 4;
        }
      }
    }
  }

  function classes() {
    const names = [];
    if (style.fg !== null) names.push("fg" + style.fg);
    if (style.bg !== null) names.push("bg" + style.bg);
    if (style.b) names.push("b");
    if (style.i) names.push("i");
    if (style.u) names.push("u");
    return names.join(" ");
  }

  // Escape sequences (CSI ... final byte); SGR ("m") is applied, the others dropped.
  const CSI = /\x1b\[([0-9;?]*)([@-~])/g;
  const OTHER_CONTROLS = /[\x00-\x08\x0b-\x1f\x7f]/g; // keeps \t and \n

  function run(text, extra) {
    text = text.replace(OTHER_CONTROLS, "");
    if (text === "") return;
    const names = [classes(), extra || ""].join(" ").trim();
    let node;
    if (names) {
      node = document.createElement("span");
      node.className = names;
      node.textContent = text;
    } else {
      node = document.createTextNode(text);
    }
    output.appendChild(node);
  }

  function write(text, extra) {
    const stick = output.scrollHeight - output.scrollTop - output.clientHeight < 40;
    let at = 0;
    for (const match of text.matchAll(CSI)) {
      run(text.slice(at, match.index), extra);
      if (match[2] === "m") applySgr(match[1]);
      at = match.index + match[0].length;
    }
    run(text.slice(at), extra);
    while (output.childNodes.length > MAX_NODES) output.removeChild(output.firstChild);
    if (stick) output.scrollTop = output.scrollHeight;
  }

  function note(text) {
    resetStyle();
    write(text + "\n", "note");
  }

  // -------------------------------------------------------------- the connection
  let ws = null;
  let retryMs = 1000;
  let retryTimer = null;
  let waitForEnter = false; // closed on purpose (quit, boot): reconnect only when asked

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = kind || "";
  }

  function setHidden(hidden) {
    input.type = hidden ? "password" : "text";
  }

  function connect() {
    clearTimeout(retryTimer);
    waitForEnter = false;
    setStatus("Connecting…");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + "/ws");
    ws = socket;
    socket.onopen = () => {
      retryMs = 1000;
      resetStyle();
      setStatus("Connected to " + location.host, "up");
    };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (typeof message.text === "string") write(message.text);
      if (typeof message.hidden === "boolean") setHidden(message.hidden);
    };
    socket.onclose = (event) => {
      if (ws !== socket) return;
      ws = null;
      setHidden(false);
      const why = event.reason || (event.code === 1006 ? "connection lost" : "code " + event.code);
      note("*** Disconnected: " + why + " ***");
      if (event.code === 1000) {
        waitForEnter = true;
        setStatus("Disconnected (" + why + "). Press Enter to connect again.", "down");
        return;
      }
      setStatus("Disconnected (" + why + "); reconnecting in " + retryMs / 1000 + " s…", "down");
      retryTimer = setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
    };
  }

  // ------------------------------------------------------------ typing, history
  const LOGIN = /^(\s*(?:co|con|conn|connect|cr|create)\s+\S+\s+)\S.*$/i; // name, password
  const history = [];
  let historyAt = 0; // history.length: the line being typed
  let draft = "";

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const line = input.value;
    const hidden = input.type === "password";
    input.value = "";
    if (ws === null || ws.readyState !== WebSocket.OPEN) {
      if (waitForEnter) connect();
      else note("*** Not connected yet: the line was not sent ***");
      return;
    }
    ws.send(line);
    if (hidden) {
      setHidden(false); // a password is one line
    } else if (LOGIN.test(line)) {
      write(line.replace(LOGIN, "$1********") + "\n", "echo"); // not shown, not kept
    } else {
      write(line + "\n", "echo");
      if (line !== "" && history[history.length - 1] !== line) history.push(line);
    }
    historyAt = history.length;
    draft = "";
  });

  input.addEventListener("keydown", (event) => {
    if (input.type === "password" || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) {
      return;
    }
    event.preventDefault();
    if (historyAt === history.length) draft = input.value;
    historyAt += event.key === "ArrowUp" ? -1 : 1;
    historyAt = Math.max(0, Math.min(history.length, historyAt));
    input.value = historyAt === history.length ? draft : history[historyAt];
  });

  connect();
})();
