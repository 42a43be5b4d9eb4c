// VPS actions (POST /instances/{name}/actions), each an Operation: the power actions and rename are the
// lifecycle actions and the PATCH rename under their VPS names; rebuild, rescue and unrescue swap roots
// (vps-root-swap.ts); resize is vps-resize.ts; password_reset and ssh_keys change the record and the seed
// (applied at the next boot) and, where the driver can exec, the keys inside the running instance at once
// (a running VM's guest agent sets the password at once).
import { conflict, invalid } from '../lib/errors.js';
import type { Operation } from '../shared/api-types.js';
import type { VpsAction, VpsActionResult, VpsActionType } from '../shared/vps-action-types.js';
import type { InstanceRecord } from './instance-record.js';
import { actionResult } from './vps-action-result.js';
import type { VpsActionDeps } from './vps-action-deps.js';
import { VpsResize } from './vps-resize.js';
import { VpsRootSwap } from './vps-root-swap.js';

export type { PlanLookup, VpsActionDeps } from './vps-action-deps.js';

/** The arguments each type takes; any other field is refused (400). */
const ARGS: Record<VpsActionType, (keyof VpsAction)[]> = {
  reboot: ['timeout'],
  shutdown: ['timeout'],
  power_off: [],
  power_cycle: [],
  rename: ['name'],
  rebuild: ['image'],
  rescue: ['image'],
  unrescue: [],
  resize: ['plan', 'vcpus', 'memoryMiB', 'diskGiB'],
  password_reset: ['password'],
  ssh_keys: ['keys'],
};

/** Writes authorized_keys inside the instance (its own root and mount namespace: a symlink there cannot lead out to the host). */
const KEYS_SCRIPT = 'umask 077 && mkdir -p /root/.ssh && cat > /root/.ssh/.authorized_keys.nimbo && mv -f /root/.ssh/.authorized_keys.nimbo /root/.ssh/authorized_keys';

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** POST /instances/{name}/actions. */
export class VpsActions {
  private rootSwap: VpsRootSwap;
  private resizer: VpsResize;

  constructor(private d: VpsActionDeps) {
    this.rootSwap = new VpsRootSwap(d);
    this.resizer = new VpsResize(d);
  }

  private get ops() {
    return this.d.runtime.d.ops;
  }

  /** Run one VPS action: checked before anything changes (400/404/409), then an Operation. */
  async act(project: string, name: string, req: VpsAction): Promise<Operation> {
    const extra = Object.keys(req).filter((k) => k !== 'type' && !ARGS[req.type].includes(k as keyof VpsAction));
    if (extra.length) throw invalid(`${req.type} takes ${ARGS[req.type].length ? ARGS[req.type].join(', ') : 'no arguments'}, not ${extra.join(', ')}`);
    const rec = await this.d.repo.record(project, name);
    if (rec.state === 'creating') throw conflict(`instance ${name} is still being created`);
    const inRescue = ['rebuild', 'resize', 'rescue', 'password_reset', 'ssh_keys'];
    if (rec.rescue && inRescue.includes(req.type)) throw conflict(`instance ${name} is in rescue: unrescue it before ${req.type}`);
    switch (req.type) {
      case 'reboot':
        return this.d.actions.act(project, name, 'restart', req.timeout ? { timeout: req.timeout } : {});
      case 'shutdown':
        return this.d.actions.act(project, name, 'stop', req.timeout ? { timeout: req.timeout } : {});
      case 'power_off':
        return this.d.actions.act(project, name, 'stop', { force: true });
      case 'power_cycle':
        return this.d.actions.act(project, name, 'restart', { force: true });
      case 'rename':
        return this.rename(project, name, req.name);
      case 'rebuild':
        if (!req.image) throw invalid('rebuild needs an image');
        return this.rootSwap.rebuild(project, name, req.image);
      case 'rescue':
        return this.rootSwap.rescue(project, name, req.image ?? 'tiny');
      case 'unrescue':
        return this.rootSwap.unrescue(project, name);
      case 'resize':
        return this.resizer.resize(project, name, req);
      case 'password_reset':
        return this.passwordReset(project, name, req.password);
      case 'ssh_keys':
        return this.sshKeys(project, name, req.keys);
    }
  }

  /** rename: the PATCH rename (one store transaction under the instance's lock) as an Operation. */
  private async rename(project: string, name: string, to: string | undefined): Promise<Operation> {
    if (!to) throw invalid('rename needs a name');
    if (to === name) throw invalid(`instance ${name} already has that name`);
    // The PATCH path takes the instance's lock itself: this Operation locks only the request.
    return this.ops.start('instance.rename', name, async () => {
      const rec = await this.d.update.rename(project, name, to);
      return this.result('rename', 'now', `renamed ${name} to ${rec.name}`, rec);
    }, { lockAs: `rename/${project}/${name}`, project });
  }

  /** password_reset: root's password as a SHA-512 crypt hash in the record and the seed; the guest sets it at its next boot. */
  private async passwordReset(project: string, name: string, password: string | undefined): Promise<Operation> {
    if (!password) throw invalid('password_reset needs a password');
    if (CONTROL.test(password)) throw invalid('password: control characters and newlines are not allowed');
    const rec = await this.d.repo.record(project, name);
    return this.ops.start('instance.password_reset', name, async () => {
      // openssl makes the salt and the hash (never a hand-made hash); the password goes in on stdin, not in argv.
      const out = await this.d.runtime.d.exec.run(['openssl', 'passwd', '-6', '-stdin'], { input: `${password}\n` });
      const passwordHash = out.stdout.trim();
      const before = (await this.d.repo.record(project, name)).passwordHash;
      const next = await this.d.repo.patch(project, name, { passwordHash });
      try {
        await this.d.provisioner.reseed(next);
      } catch (e) {
        await this.d.repo.patch(project, name, { passwordHash: before });
        throw e;
      }
      // A running VM with a guest agent gets it at once (the same hash); the seed keeps it for later boots.
      const ga = this.d.runtime.driverOf(next).guestAgent;
      if (ga && next.state === 'running') {
        try {
          await ga.setPassword(this.d.runtime.refOf(next), 'root', passwordHash, true);
          return this.result('password_reset', 'now', "root's new password is set in the running VM (through its guest agent); the seed keeps it for later boots", next);
        } catch (e) {
          this.d.runtime.d.log.info({ instance: name, err: (e as Error).message }, 'password_reset: guest agent not usable; the password applies at the next boot');
        }
      }
      return this.result('password_reset', 'next-boot', "root's new password is in the instance's seed: it applies at the next boot (reboot it to apply now)", next);
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  /** ssh_keys: the keys replace the record's, the seed is written again; a running instance that can exec gets them at once. */
  private async sshKeys(project: string, name: string, keys: string[] | undefined): Promise<Operation> {
    if (!keys) throw invalid('ssh_keys needs keys (an empty list removes every key)');
    const clean = keys.map((k) => k.trim());
    if (clean.some((k) => k === '' || CONTROL.test(k))) throw invalid('ssh keys: each key is one non-empty line without control characters');
    const rec = await this.d.repo.record(project, name);
    return this.ops.start('instance.ssh_keys', name, async () => {
      const before = (await this.d.repo.record(project, name)).sshKeys;
      const next = await this.d.repo.patch(project, name, { sshKeys: clean });
      try {
        await this.d.provisioner.reseed(next);
        const now = this.d.runtime.caps(next).exec && (await this.d.runtime.status(next)).state === 'running';
        if (now) {
          const r = await this.d.exec.exec(next, ['sh', '-c', KEYS_SCRIPT], clean.map((k) => `${k}\n`).join(''));
          if (r.code !== 0) throw conflict(`cannot write root's authorized_keys in ${name}: ${r.stderr.trim() || `exit ${r.code}`}`);
          return this.result('ssh_keys', 'now', `root's authorized_keys in ${name} now hold ${clean.length} key(s); the seed has them for later boots`, next);
        }
      } catch (e) {
        await this.d.repo.patch(project, name, { sshKeys: before });
        await this.d.provisioner.reseed(await this.d.repo.record(project, name)).catch(() => undefined);
        throw e;
      }
      return this.result('ssh_keys', 'next-boot', `the ${clean.length} key(s) are in the instance's seed: they apply at its next boot`, next);
    }, { lockAs: this.d.runtime.lockOf(rec), project });
  }

  private result(type: VpsActionType, applies: VpsActionResult['applies'], message: string, rec: InstanceRecord): Promise<VpsActionResult> {
    return actionResult(this.d.views, type, applies, message, rec);
  }
}
