import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from './errors.js';
import { columnName, matchFilters, parseFilters, renderFilteredList, renderRows, selectColumns } from './list-view.js';
import { sampleInstance } from './fake-daemon.js';
import { instanceColumns, instanceFilterKeys } from './views.js';
import { volumeColumns } from './storage-views.js';

const usage = (re: RegExp) => (e: unknown) => e instanceof CliError && e.exitCode === 2 && re.test(e.message);

test('column names are the headers in lower case with dashes', () => {
  assert.deepEqual(instanceColumns().map(columnName), ['name', 'type', 'state', 'image', 'cpus', 'memory', 'disk', 'addresses', 'age', 'arch']);
  assert.equal(columnName({ header: 'ATTACHED TO' }), 'attached-to');
  assert.equal(columnName({ header: 'VM STATE' }), 'vm-state');
});

test('--columns picks columns in the order given, case-insensitively; unknown names list the known ones', () => {
  const cols = instanceColumns();
  assert.equal(selectColumns(cols, undefined), cols);
  assert.deepEqual(selectColumns(cols, 'state, NAME').map((c) => c.header), ['STATE', 'NAME']);
  assert.throws(() => selectColumns(cols, 'name,colour'), usage(/^unknown column "colour"; known columns: name, type, state, image, cpus, memory, disk, addresses, age, arch$/));
  assert.throws(() => selectColumns(cols, ' , '), usage(/needs at least one of: name, type/));
  assert.deepEqual(selectColumns(volumeColumns(), 'attached').map((c) => c.header), ['ATTACHED']);
});

test('--filter parsing: KEY=VALUE, label.K=V and label=K=V; bad ones exit 2 naming the keys', () => {
  const keys = Object.keys(instanceFilterKeys);
  assert.deepEqual(parseFilters(['state=running', 'Image=debian-12', 'network=a=b'], keys), [
    { key: 'state', value: 'running' },
    { key: 'image', value: 'debian-12' },
    { key: 'network', value: 'a=b' },
  ]);
  assert.deepEqual(parseFilters(['label.Tier=web', 'label=env=prod'], keys, true), [
    { key: 'label', label: 'Tier', value: 'web' },
    { key: 'label', label: 'env', value: 'prod' },
  ]);
  assert.deepEqual(parseFilters(undefined, keys), []);
  assert.throws(() => parseFilters(['colour=red'], keys, true), usage(/^unknown filter key "colour"; keys: name, state, type, image, network, arch, label\.KEY$/));
  assert.throws(() => parseFilters(['running'], keys), usage(/must be KEY=VALUE; keys: name, state/));
  assert.throws(() => parseFilters(['=x'], keys), usage(/must be KEY=VALUE/));
  assert.throws(() => parseFilters(['label=env'], keys, true), usage(/must be label\.KEY=VALUE/));
  assert.throws(() => parseFilters(['label.=x'], keys, true), usage(/must be label\.KEY=VALUE/));
  // Lists without labels do not take label filters.
  assert.throws(() => parseFilters(['label.a=b'], ['name']), usage(/unknown filter key "label\.a"; keys: name$/));
});

test('filters: different keys all match, a repeated key any; lists (network) match any member; labels', () => {
  const web = sampleInstance({ name: 'web', state: 'running', nics: [
    { name: 'eth0', network: 'default', mac: 'm', address: 'a', tap: 't' },
    { name: 'eth1', network: 'back', mac: 'm', address: 'b', tap: 't' },
  ] });
  const db = { ...sampleInstance({ name: 'db', state: 'stopped', type: 'container' }), labels: { tier: 'data' } };
  const keys = Object.keys(instanceFilterKeys);
  const pick = (specs: string[]) => [web, db].filter((i) => matchFilters(i, parseFilters(specs, keys, true), instanceFilterKeys)).map((i) => i.name);
  assert.deepEqual(pick([]), ['web', 'db']);
  assert.deepEqual(pick(['state=running']), ['web']);
  assert.deepEqual(pick(['state=running', 'state=stopped']), ['web', 'db']);
  assert.deepEqual(pick(['state=running', 'type=container']), []);
  assert.deepEqual(pick(['network=back']), ['web']);
  assert.deepEqual(pick(['network=default']), ['web', 'db']);
  assert.deepEqual(pick(['label.tier=data']), ['db']);
  assert.deepEqual(pick(['label=tier=web']), []);
  assert.deepEqual(pick(['state=Running']), [], 'values compare exactly');
});

test('rows with and without the header line; columns fit the rows alone without it', () => {
  assert.equal(renderRows(['NAME', 'STATE'], [['a', 'running'], ['bbb', 'stopped']]), 'NAME  STATE\na     running\nbbb   stopped\n');
  assert.equal(renderRows(['NAME', 'STATE'], [['a', 'running'], ['bbb', 'stopped']], false), 'a    running\nbbb  stopped\n');
  assert.equal(renderRows(['NAME'], [], false), '');
  assert.equal(renderRows(['NAME'], []), 'NAME\n');
});

test('a filtered list: table of the chosen columns, or the whole matching objects as JSON', () => {
  const items = [sampleInstance({ name: 'a' }), sampleInstance({ name: 'b', state: 'stopped' })];
  const cols = instanceColumns();
  assert.equal(renderFilteredList(items, cols, instanceFilterKeys, { columns: 'name,state', filter: ['state=stopped'] }), 'NAME  STATE\nb     stopped\n');
  assert.equal(renderFilteredList(items, cols, instanceFilterKeys, { columns: 'name', header: false }), 'a\nb\n');
  assert.deepEqual(JSON.parse(renderFilteredList(items, cols, instanceFilterKeys, { output: 'json', filter: ['state=running'], columns: 'name' })), [items[0]]);
  assert.throws(() => renderFilteredList(items, cols, instanceFilterKeys, { filter: ['nope=1'] }), usage(/unknown filter key/));
});
