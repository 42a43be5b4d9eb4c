/** Media commands: the ISO image in the CD-ROM drive of a VM launched with --iso (insert, eject). */
import type { Command } from 'commander';
import { parseName } from '../validate.js';
import { clientFor, finishOperation, withWaitOptions, type WaitOptions } from './common.js';

const mediaPath = (vm: string) => `/instances/${encodeURIComponent(vm)}/media`;

/** Register `nimbo media insert|eject`. */
export function registerMediaCommands(program: Command): void {
  const media = program.command('media').description("the ISO image in a VM's CD-ROM drive (VMs launched with --iso): live while it runs, kept for its next starts");
  withWaitOptions(
    media
      .command('insert')
      .description("put an ISO image (type iso, see: nimbo image list) in the VM's CD-ROM drive, replacing what is in it")
      .argument('<instance>', 'VM name', (v: string) => parseName(v, 'instance name'))
      .argument('<image>', 'ISO image name', (v: string) => parseName(v, 'image name')),
  ).action(async (vm: string, image: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('POST', mediaPath(vm), { body: { image } });
    await finishOperation(op, client, o, () => `Inserted ${image} in ${vm}`);
  });
  withWaitOptions(
    media
      .command('eject')
      .description("empty the VM's CD-ROM drive (even if the guest locked its tray); it then boots from its disk")
      .argument('<instance>', 'VM name', (v: string) => parseName(v, 'instance name')),
  ).action(async (vm: string, o: WaitOptions, cmd: Command) => {
    const client = clientFor(cmd);
    const op = await client.operation('DELETE', mediaPath(vm));
    await finishOperation(op, client, o, () => `Ejected the media of ${vm}`);
  });
}
