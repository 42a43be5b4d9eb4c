import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { LOCK_INIT_SCRIPT, lockedInitArgs } from './oci-lock-init.js';

test('lockedInitArgs: sh runs the lock script with the id-map size, then the real init argv', () => {
  assert.deepEqual(lockedInitArgs(['/sbin/init', '--log-level=info'], 65536), ['/bin/sh', '-c', LOCK_INIT_SCRIPT, 'nimbo-lock-init', '65536', '/sbin/init', '--log-level=info']);
});

test('the lock script parses in dash and busybox sh (both kinds of system image)', () => {
  for (const sh of [['/bin/sh'], ['/bin/busybox', 'sh']]) {
    execFileSync(sh[0]!, [...sh.slice(1), '-n', '-c', LOCK_INIT_SCRIPT]);
    // The inner script (after unshare) too.
    const inner = /sh -c '([^']+)'/.exec(LOCK_INIT_SCRIPT)![1]!;
    execFileSync(sh[0]!, [...sh.slice(1), '-n', '-c', inner]);
  }
  assert.match(LOCK_INIT_SCRIPT, /exec unshare -U -m --propagation unchanged/);
  assert.match(LOCK_INIT_SCRIPT, /echo "0 0 \$n" > \/proc\/\$\$\/uid_map && echo "0 0 \$n" > \/proc\/\$\$\/gid_map/);
});

test('without unshare in the image the script runs init directly and says so', () => {
  // PATH without unshare: the fallback branch execs "$@" (here: echo).
  const out = execFileSync('/bin/sh', ['-c', LOCK_INIT_SCRIPT, 'nimbo-lock-init', '65536', '/bin/echo', 'init-ran'], {
    env: { PATH: '/nonexistent' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.equal(out, 'init-ran\n');
});
