// The events WebSocket, shared by every page: one socket per project, reopened with a new ticket after a drop.
import { socketUrl } from './api.js';
import type { Event } from '../../../src/shared/api-types.js';

type Listener = (ev: Event) => void;
const listeners = new Set<Listener>();
let socket: WebSocket | undefined;
let retry: ReturnType<typeof setTimeout> | undefined;
let wanted = false;
// Set while a ticket is being fetched: listeners added meanwhile must not open a second socket.
let opening = false;

/** Listen to live events of the panel's project; returns the function that stops listening. */
export function onEvent(fn: Listener): () => void {
  listeners.add(fn);
  if (!socket && !retry && !opening) void open();
  return () => listeners.delete(fn);
}

/** Open the socket (again) for the current project, e.g. after the project changed. */
export function reconnectEvents(): void {
  socket?.close();
  socket = undefined;
  if (listeners.size) void open();
}

/** Close the socket (logout). */
export function closeEvents(): void {
  wanted = false;
  if (retry) clearTimeout(retry);
  retry = undefined;
  socket?.close();
  socket = undefined;
}

async function open(): Promise<void> {
  wanted = true;
  retry = undefined;
  opening = true;
  let url: string;
  try {
    url = await socketUrl('/events');
  } catch {
    schedule();
    return;
  } finally {
    opening = false;
  }
  const ws = new WebSocket(url);
  socket = ws;
  ws.onmessage = (m) => {
    let ev: Event;
    try {
      ev = JSON.parse(String(m.data)) as Event;
    } catch {
      return;
    }
    for (const l of listeners) l(ev);
  };
  ws.onclose = () => {
    if (socket === ws) socket = undefined;
    if (wanted && listeners.size) schedule();
  };
}

function schedule(): void {
  if (!retry) retry = setTimeout(() => void open(), 3000);
}
