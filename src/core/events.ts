import { EventEmitter } from 'node:events';
import type { Event } from '../shared/api-types.js';

/** In-process event bus; the API forwards it on the /api/v1/events WebSocket. */
export class EventBus {
  private em = new EventEmitter();
  constructor() {
    this.em.setMaxListeners(0);
  }

  /** Publish an event to every subscriber; `project` is the target's project (none: a platform event, e.g. a pool). */
  publish(type: string, target: string, data: unknown, project?: string): void {
    const ev: Event = { type, time: new Date().toISOString(), target, data, ...(project !== undefined ? { project } : {}) };
    this.em.emit('event', ev);
  }

  /** Subscribe; returns the unsubscribe function. */
  subscribe(cb: (ev: Event) => void): () => void {
    this.em.on('event', cb);
    return () => this.em.off('event', cb);
  }
}
