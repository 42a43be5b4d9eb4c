// Status lines of the browser consoles (pure): how a closed WebSocket reads for the user.

/** The parts of a CloseEvent the status line uses. */
export interface Closed {
  code: number;
  reason: string;
}

/** "disconnected (reason)": the daemon's reason when it gave one, else what the close code means. */
export function closeText(ev: Closed): string {
  return `disconnected (${ev.reason || codeMeaning(ev.code)})`;
}

/** An exec session's end: "exited N" from the daemon's reason "exit N", else as closeText. */
export function exitText(ev: Closed): string {
  const m = /^exit (\d+)$/.exec(ev.reason);
  return m ? `exited ${m[1]}` : closeText(ev);
}

function codeMeaning(code: number): string {
  switch (code) {
    case 1000:
      return 'closed';
    case 1001:
      return 'the daemon is going away';
    case 1006:
      return 'connection lost';
    case 1008:
      return 'refused';
    case 1011:
      return 'the daemon failed';
    default:
      return `code ${code}`;
  }
}
