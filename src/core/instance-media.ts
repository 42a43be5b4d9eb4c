// The CD-ROM drive of VMs installed from an ISO (launch --iso): which ISO image is in it. The record keeps it
// (a start attaches what it says); a running VM gets the change live through its driver.
import { conflict, invalid } from '../lib/errors.js';
import { validateName } from '../lib/validate.js';
import type { Instance } from '../shared/api-types.js';
import type { InstanceRepo } from './instance-repo.js';
import type { InstanceRuntime } from './instance-runtime.js';
import type { InstanceViews } from './instance-view.js';

/** Insert and eject of ISO images in VMs' CD-ROM drives. */
export class InstanceMedia {
  constructor(private runtime: InstanceRuntime, private repo: InstanceRepo, private views: InstanceViews) {}

  private get d() {
    return this.runtime.d;
  }

  /** Put ISO image `image` (the project's own of that name, else the public one) in the VM's drive: live when it runs, else at its next start. */
  async insert(project: string, name: string, image: string) {
    validateName(image, 'image name');
    const rec = await this.repo.record(project, name);
    this.checkDrive(rec);
    const ref = await this.d.images.resolve(project, image);
    const img = await this.d.images.ready(ref);
    if (img.type !== 'iso') throw invalid(`image ${image} is ${img.oci ? 'an OCI application image' : 'a disk image'}, not an ISO: only an ISO image goes in a CD-ROM drive`);
    return this.change(project, name, ref, img.disk, `inserted ${image}`);
  }

  /** Empty the VM's drive: live when it runs (even if the guest locked the tray), else for its next start. */
  async eject(project: string, name: string) {
    this.checkDrive(await this.repo.record(project, name));
    return this.change(project, name, null, null, 'ejected');
  }

  private checkDrive(rec: { name: string; cdrom?: unknown; type: string }): void {
    if (!rec.cdrom) throw conflict(`instance ${rec.name} has no CD-ROM drive: only VMs launched with --iso have one`);
  }

  private async change(project: string, name: string, ref: string | null, path: string | null, what: string) {
    const rec = await this.repo.record(project, name);
    return this.d.ops.start('instance.media', name, async (ctx): Promise<Instance> => {
      const cur = await this.repo.record(project, name);
      this.checkDrive(cur);
      if (await this.runtime.live(cur)) {
        const driver = this.runtime.driverOf(cur);
        if (!driver.changeMedia) throw conflict(`instance ${name}'s driver cannot change media while it runs: stop it first`);
        ctx.progress(30, 'changing the medium in the running VM');
        await driver.changeMedia(this.runtime.refOf(cur), path);
      }
      // Recorded last: a restart keeps what is in the drive now.
      const next = await this.repo.patch(project, name, { cdrom: { image: ref } });
      ctx.log(`${what}`);
      this.d.events.publish('instance', name, { media: ref ?? '' }, project);
      return this.views.view(next);
    }, { lockAs: this.runtime.lockOf(rec), project });
  }
}
