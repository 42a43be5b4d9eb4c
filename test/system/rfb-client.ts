// The opening of an RFB (VNC) session, as noVNC does it, over a WebSocket of binary frames: version, security
// type None, ClientInit, ServerInit. Enough to prove a VGA console answers through nimbod's /vnc route.
import type WebSocket from 'ws';

/** What ServerInit told: the framebuffer's size and the desktop's name. */
export interface RfbServerInit {
  version: string;
  width: number;
  height: number;
  name: string;
}

/** Run the RFB 3.8 handshake over an open WebSocket and return ServerInit (rejects on a refusal or after timeoutMs). */
export function rfbHandshake(ws: WebSocket, timeoutMs = 20_000): Promise<RfbServerInit> {
  let buf = Buffer.alloc(0);
  let want: { n: number; done: (b: Buffer) => void } | undefined;
  const pump = () => {
    if (want && buf.length >= want.n) {
      const w = want;
      want = undefined;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.done(Buffer.from(out));
    }
  };
  ws.on('message', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    pump();
  });
  const read = (n: number) => new Promise<Buffer>((done) => {
    want = { n, done };
    pump();
  });
  const run = async (): Promise<RfbServerInit> => {
    const version = (await read(12)).toString('latin1');
    if (!/^RFB 003\.00[378]\n$/.test(version)) throw new Error(`not an RFB greeting: ${JSON.stringify(version)}`);
    ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
    const count = (await read(1))[0]!;
    if (count === 0) throw new Error(`the server refused: ${(await read((await read(4)).readUInt32BE(0))).toString()}`);
    const types = [...(await read(count))];
    if (!types.includes(1)) throw new Error(`security type None not offered (offered: ${types.join(', ')})`);
    ws.send(Buffer.from([1]));
    const result = (await read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`security handshake failed (${result})`);
    ws.send(Buffer.from([1])); // ClientInit: shared, as noVNC asks by default
    const init = await read(24);
    const name = (await read(init.readUInt32BE(20))).toString('utf8');
    return { version: version.trim(), width: init.readUInt16BE(0), height: init.readUInt16BE(2), name };
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no RFB ServerInit within ${timeoutMs} ms`)), timeoutMs);
    ws.once('close', (code, reason) => reject(new Error(`closed during the RFB handshake: ${code} ${reason.toString()}`)));
    run().then(resolve, reject).finally(() => clearTimeout(timer));
  });
}
