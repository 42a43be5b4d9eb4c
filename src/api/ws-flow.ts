import type { Duplex, Readable } from 'node:stream';

/*
 * Backpressure on WebSocket senders: what the daemon queues for one client is bounded. A relay of
 * a child's output pauses the child (its pipe fills, the command waits) while the client lags; a
 * broadcast the daemon cannot pause (events, a VM's serial output) closes a client that falls too
 * far behind, with close code WS_TOO_SLOW, instead of queueing without end.
 */

/** Pause a source once this much waits in a socket's send buffer. */
export const WS_HIGH_WATER = 1024 * 1024;
/** Resume it once the buffer drained below this. */
export const WS_LOW_WATER = 256 * 1024;
/** A broadcast client further behind than this is disconnected. */
export const WS_DROP_AT = 8 * 1024 * 1024;
/** Close code for a client too slow to keep up (an application code: 4000-4999). */
export const WS_TOO_SLOW = 4429;

/** The part of a ws WebSocket the senders use (a fake in tests). */
export interface FlowSocket {
  readonly bufferedAmount: number;
  send(data: Buffer | string, cb?: (err?: Error) => void): void;
  close(code?: number, reason?: string): void;
  terminate(): void;
}

/** Send `source`'s chunks as binary frames, pausing it while the socket holds more than WS_HIGH_WATER unsent. */
export function pipeToSocket(source: Readable, socket: FlowSocket, high = WS_HIGH_WATER, low = WS_LOW_WATER): void {
  let paused = false;
  const sent = () => {
    if (paused && socket.bufferedAmount <= low) {
      paused = false;
      source.resume();
    }
  };
  source.on('data', (chunk: Buffer) => {
    socket.send(chunk, sent);
    if (!paused && socket.bufferedAmount > high) {
      paused = true;
      source.pause();
    }
  });
}

/** A sender for a broadcast: sends while the client keeps up, closes it (WS_TOO_SLOW) once it lags past `dropAt`; false once closed. */
export function boundedSender(socket: FlowSocket, what: string, dropAt = WS_DROP_AT): (data: Buffer | string) => boolean {
  let dropped = false;
  return (data) => {
    if (dropped) return false;
    if (socket.bufferedAmount + data.length > dropAt) {
      dropped = true;
      socket.close(WS_TOO_SLOW, `${what}: client too slow, ${dropAt} bytes behind`);
      // A client that reads nothing never takes the close frame either: cut it after a grace period.
      setTimeout(() => socket.terminate(), 5000).unref();
      return false;
    }
    socket.send(data);
    return true;
  };
}

/** The part of a ws WebSocket a two-way relay uses beyond FlowSocket. */
export interface DuplexFlowSocket extends FlowSocket {
  on(ev: 'message', cb: (data: Buffer) => void): unknown;
  on(ev: 'close', cb: () => void): unknown;
  pause(): void;
  resume(): void;
}

/**
 * Relay binary frames both ways between a WebSocket and a byte stream (a VM's VNC socket), bounded both ways:
 * the stream pauses while the client lags (pipeToSocket), and the client's frames stop being read while the
 * stream does not take them (its write buffer is full). Either end closing closes the other.
 */
export function relayDuplex(socket: DuplexFlowSocket, stream: Duplex, what: string): void {
  pipeToSocket(stream, socket);
  let waiting = false;
  socket.on('message', (data: Buffer) => {
    if (stream.destroyed) return;
    if (!stream.write(data) && !waiting) {
      waiting = true;
      socket.pause();
      stream.once('drain', () => {
        waiting = false;
        socket.resume();
      });
    }
  });
  socket.on('close', () => stream.destroy());
  stream.on('error', () => undefined); // the close that follows tells the client
  stream.on('close', () => socket.close(1000, `${what} closed`));
}
