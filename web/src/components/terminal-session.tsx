// One xterm.js terminal over one binary WebSocket (the serial console and a container's exec share it): output
// frames are written to the terminal, keystrokes are sent as binary frames, and a closed socket shows why with a
// Reconnect button. Each (re)connect asks for a new socket URL: a console ticket is single-use and lasts 60 s.
import { useEffect, useRef, useState } from 'preact/hooks';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import './consoles.css';
import { Button } from './ui.js';
import { message } from '../lib/hooks.js';

/** The size the terminal has once fitted to its box. */
export interface TermSize {
  rows: number;
  cols: number;
}

/** How a socket's close reads in the status line. */
export type CloseText = (ev: { code: number; reason: string }) => string;

/**
 * A terminal wired to the WebSocket at `open(size)`'s URL; `label` names its box for screen readers and tests.
 * `replayFirst`: the first frame repeats past output (a VM console sends its recent output on connect), so the
 * terminal must not answer the queries in it (a shell's cursor-position requests): the answers would reach the
 * guest as typed text.
 */
export function TerminalSession(props: { label: string; open: (size: TermSize) => Promise<string>; closed: CloseText; replayFirst?: boolean }) {
  const box = useRef<HTMLDivElement>(null);
  const term = useRef<{ t: Terminal; fit: FitAddon }>();
  const sock = useRef<WebSocket>();
  const muted = useRef(false);
  const [status, setStatus] = useState('connecting…');
  const [ended, setEnded] = useState(false);
  const openRef = useRef(props.open);
  openRef.current = props.open;
  const closedRef = useRef(props.closed);
  closedRef.current = props.closed;

  const connect = async () => {
    const tm = term.current;
    if (!tm) return;
    setEnded(false);
    setStatus('connecting…');
    // A new session starts on a clean screen (a console repeats its recent output on connect).
    tm.t.reset();
    let url: string;
    try {
      url = await openRef.current({ rows: tm.t.rows, cols: tm.t.cols });
    } catch (e) {
      setStatus(`disconnected (${message(e)})`);
      setEnded(true);
      return;
    }
    if (term.current !== tm) return;
    const ws = new WebSocket(url);
    ws.binaryType = 'arraybuffer';
    sock.current = ws;
    ws.onopen = () => {
      setStatus('connected');
      tm.t.focus();
    };
    let first = props.replayFirst === true;
    ws.onmessage = (m) => {
      const data = typeof m.data === 'string' ? m.data : new Uint8Array(m.data as ArrayBuffer);
      if (!first) return tm.t.write(data);
      first = false;
      // xterm answers queries while it parses a write, before its callback: mute replies for just that span.
      muted.current = true;
      tm.t.write(data, () => (muted.current = false));
    };
    ws.onclose = (ev) => {
      if (sock.current !== ws) return;
      sock.current = undefined;
      setStatus(closedRef.current(ev));
      setEnded(true);
    };
  };

  useEffect(() => {
    const el = box.current!;
    const t = new Terminal({ cursorBlink: true, convertEol: false, fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace", fontSize: 14, scrollback: 5000 });
    const fit = new FitAddon();
    t.loadAddon(fit);
    t.open(el);
    fit.fit();
    const enc = new TextEncoder();
    const send = (data: Uint8Array) => {
      const ws = sock.current;
      if (ws && ws.readyState === WebSocket.OPEN && !muted.current) ws.send(data);
    };
    const d1 = t.onData((d) => send(enc.encode(d)));
    // onBinary: bytes that are not UTF-8 text (some mouse reports).
    const d2 = t.onBinary((d) => send(Uint8Array.from(d, (c) => c.charCodeAt(0) & 0xff)));
    term.current = { t, fit };
    const ro = new ResizeObserver(() => {
      try {
        fit.fit();
      } catch {
        /* hidden (display: none): keep the last size */
      }
    });
    ro.observe(el);
    void connect();
    return () => {
      ro.disconnect();
      d1.dispose();
      d2.dispose();
      const ws = sock.current;
      sock.current = undefined;
      ws?.close();
      term.current = undefined;
      t.dispose();
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  return (
    <div class="term-session">
      <div class="term-bar">
        <span class="term-status" role="status">
          {status}
        </span>
        {ended ? (
          <Button kind="primary" onClick={() => void connect()}>
            Reconnect
          </Button>
        ) : null}
      </div>
      {/* Focus on the box hands it to xterm's own input, so typing after a click or Tab goes to the terminal. */}
      <div class="terminal" ref={box} aria-label={props.label} role="group" tabIndex={0} onFocus={(e) => e.target === e.currentTarget && term.current?.t.focus()} />
    </div>
  );
}
