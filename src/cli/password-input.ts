// Passwords for `nimbo login` and `nimbo user`: typed on the terminal without echo, or read from stdin when
// stdin is not a terminal (scripts). Never from a command-line flag, where ps and shell history would keep it.
import { CliError, EXIT } from './errors.js';

/** Read one line from the terminal without echoing it (the prompt goes to stderr). */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let text = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.removeListener('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(text);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new CliError('cancelled', { exitCode: EXIT.failure }));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch >= ' ') text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

let piped: Promise<string[]> | undefined;
/** The lines of stdin (read once, when it is not a terminal). */
function stdinLines(): Promise<string[]> {
  piped ??= new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (c: string) => (text += c));
    process.stdin.on('end', () => resolve(text.split(/\r?\n/)));
    process.stdin.on('error', reject);
  });
  return piped;
}

let lineNo = 0;
/**
 * A secret: on a terminal, asked with `prompt` (twice when `confirm`, which must match); otherwise the next
 * line of stdin. An empty answer is refused.
 */
export async function readSecret(prompt: string, confirm = false): Promise<string> {
  let value: string;
  if (process.stdin.isTTY) {
    value = await readHidden(prompt);
    if (confirm && (await readHidden('again: ')) !== value) throw new CliError('the two passwords differ', { exitCode: EXIT.usage });
  } else {
    value = (await stdinLines())[lineNo++] ?? '';
  }
  if (value === '') throw new CliError(`no password given (${process.stdin.isTTY ? 'type it at the prompt' : 'write it as a line on stdin'})`, { exitCode: EXIT.usage });
  return value;
}

/** Read a plain (echoed) line on a terminal: the user name when none was given. */
export async function readLine(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) throw new CliError('no user name: pass --user NAME', { exitCode: EXIT.usage });
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(prompt)).trim();
  } finally {
    rl.close();
  }
}
