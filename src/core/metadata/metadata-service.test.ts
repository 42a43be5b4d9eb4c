import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../store/sqlite/sqlite-store.js';
import { silentLogger } from '../../lib/log.js';
import type { InstanceRecord } from '../instance-record.js';
import { MetadataService } from './metadata-service.js';
import { listClaims, METADATA_PORT_FIRST } from './metadata-ports.js';

const nic = (name: string, network: string, address: string) => ({ name, network, address, mac: '52:54:00:00:00:01', tap: `t${address}` });
const inst = (name: string, uuid: string, nics: ReturnType<typeof nic>[], extra: Partial<InstanceRecord> = {}) =>
  ({ name, uuid, type: 'vm', image: 'tiny', cpus: 1, memory: 2 ** 26, disk: 0, sshKeys: ['ssh-ed25519 AAAA a'], state: 'running', accelerator: 'tcg', nics, createdAt: '', ...extra }) as InstanceRecord;
const nets = async () => [{ name: 'default', bridge: 'nmbr0', gateway: '10.8.0.1' }, { name: 'blue', bridge: 'nmbr1', gateway: '10.9.0.1' }];

test('endpoints: a port per NIC by instance UUID, kept across calls, released when the NIC or instance goes; lookup by UUID', async () => {
  const store = new SqliteStore(':memory:');
  let all = [
    inst('web', 'uuid-a', [nic('eth0', 'default', '10.8.0.5'), nic('eth1', 'blue', '10.9.0.7')], { userData: '#!/bin/sh\ntrue\n' }),
    inst('db', 'uuid-b', [nic('eth0', 'default', '10.8.0.6')]),
  ];
  const md = new MetadataService(store, nets, async () => all, silentLogger());
  const eps = await md.endpoints(all);
  assert.deepEqual(eps, [
    { bridge: 'nmbr0', address: '10.8.0.5', gateway: '10.8.0.1', port: METADATA_PORT_FIRST },
    { bridge: 'nmbr1', address: '10.9.0.7', gateway: '10.9.0.1', port: METADATA_PORT_FIRST + 1 },
    { bridge: 'nmbr0', address: '10.8.0.6', gateway: '10.8.0.1', port: METADATA_PORT_FIRST + 2 },
  ]);
  assert.deepEqual((await listClaims(store)).map((c) => `${c.port} ${c.owner}/${c.nic}`).sort(), [
    `${METADATA_PORT_FIRST} uuid-a/eth0`, `${METADATA_PORT_FIRST + 1} uuid-a/eth1`, `${METADATA_PORT_FIRST + 2} uuid-b/eth0`,
  ]);
  assert.deepEqual(await md.endpoints(all), eps, 'stable');
  // Renamed: same UUID, same ports.
  all = [{ ...all[0]!, name: 'web2' }, all[1]!];
  assert.deepEqual(await md.endpoints(all), eps);
  const v = await md.lookup('uuid-a', 'eth1');
  assert.equal(v?.instanceId, 'uuid-a');
  assert.equal(v?.hostname, 'web2');
  assert.equal(v?.localIpv4, '10.9.0.7');
  assert.equal(v?.userData, '#!/bin/sh\ntrue\n');
  assert.equal(await md.lookup('uuid-z', 'eth0'), undefined);
  // db deleted: its port is free again and goes to the next new NIC.
  all = [all[0]!, inst('new', 'uuid-c', [nic('eth0', 'default', '10.8.0.9')])];
  const after = await md.endpoints(all);
  assert.deepEqual(after.map((e) => e.port), [METADATA_PORT_FIRST, METADATA_PORT_FIRST + 1, METADATA_PORT_FIRST + 2]);
  assert.equal((await listClaims(store)).find((c) => c.port === METADATA_PORT_FIRST + 2)?.owner, 'uuid-c');
  await store.close();
});
