// The VGA console in the browser: noVNC over /instances/{name}/vnc (RFB relayed to QEMU's VNC socket), scaled to
// fit its box. The socket is handed to noVNC only once the server's greeting came, so a refusal (the VM is not
// running) shows as a status line instead of noVNC logging a failed handshake to the browser console.
import { useEffect, useRef, useState } from 'preact/hooks';
import RFB from '@novnc/novnc';
import './consoles.css';
import { Button } from './ui.js';
import { socketUrl } from '../lib/api.js';
import { message } from '../lib/hooks.js';
import { closeText } from '../lib/live-text.js';

/** The VGA console of a VM. */
export function VncConsole(props: { instance: string }) {
  const box = useRef<HTMLDivElement>(null);
  const rfb = useRef<RFB>();
  const sock = useRef<WebSocket>();
  const [status, setStatus] = useState('connecting…');
  const [connected, setConnected] = useState(false);
  const [ended, setEnded] = useState(false);
  const name = props.instance;

  const stop = () => {
    const ws = sock.current;
    sock.current = undefined;
    const r = rfb.current;
    rfb.current = undefined;
    if (r) r.disconnect();
    else ws?.close();
  };

  const connect = async () => {
    stop();
    setEnded(false);
    setConnected(false);
    setStatus('connecting…');
    let url: string;
    try {
      url = await socketUrl(`/instances/${encodeURIComponent(name)}/vnc`, { instance: name });
    } catch (e) {
      setStatus(`disconnected (${message(e)})`);
      setEnded(true);
      return;
    }
    const ws = new WebSocket(url, ['binary']);
    ws.binaryType = 'arraybuffer';
    sock.current = ws;
    ws.addEventListener('close', (ev) => {
      if (sock.current !== ws) return;
      sock.current = undefined;
      rfb.current = undefined;
      setConnected(false);
      setStatus(closeText(ev));
      setEnded(true);
    });
    // The first frame is the server's RFB greeting: attach noVNC now (it handles an open socket) and hand it that frame.
    ws.onmessage = (first) => {
      if (sock.current !== ws || !box.current) return;
      const r = new RFB(box.current, ws, { shared: true });
      r.scaleViewport = true;
      r.background = '#222';
      // The desktop's name ("QEMU (vm1)") comes just before the connect event.
      let desktop = '';
      r.addEventListener('desktopname', (e) => {
        desktop = (e as CustomEvent<{ name: string }>).detail.name;
      });
      r.addEventListener('connect', () => {
        setConnected(true);
        setStatus(desktop ? `connected to ${desktop}` : 'connected');
      });
      r.addEventListener('securityfailure', (e) => setStatus(`disconnected (security: ${(e as CustomEvent<{ reason?: string }>).detail.reason ?? 'refused'})`));
      rfb.current = r;
      ws.onmessage?.(first);
    };
  };

  useEffect(() => {
    void connect();
    return stop;
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name]);

  return (
    <div class="vnc-console">
      <div class="term-bar">
        <span class="term-status" role="status">
          {status}
        </span>
        <Button disabled={!connected} onClick={() => rfb.current?.sendCtrlAltDel()}>
          Ctrl-Alt-Del
        </Button>
        {ended ? (
          <Button kind="primary" onClick={() => void connect()}>
            Reconnect
          </Button>
        ) : null}
      </div>
      {/* Tab to the box gives noVNC the keyboard (a click does too). */}
      <div class="vnc" ref={box} aria-label="VGA console" role="group" tabIndex={0} onFocus={(e) => e.target === e.currentTarget && rfb.current?.focus()} />
    </div>
  );
}
