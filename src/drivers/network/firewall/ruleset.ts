import { validateNftTable } from '../validate.js';

// A daemon's whole nft ruleset: one `inet` table (NAT, isolation, forwards, stateful security groups)
// and one `bridge` table (per-port anti-spoofing at layer 2), both named after the daemon, replaced in
// one `nft -f -` transaction. Each part renders a Fragment; chain and set names are prefixed per part
// (net_, fwd_, sg_) so that parts never collide. Base chains of different parts on one hook all run:
// an accept ends only its own chain, a drop ends the packet.

/** Lines inside the two tables (sets, maps, chains), each indented by one tab. */
export interface Fragment {
  inet: string[];
  bridge: string[];
}

/** Join fragments into the complete script: create-if-missing, delete, then declare both tables whole. */
export function renderRuleset(table: string, parts: Fragment[]): string {
  validateNftTable(table);
  const inet = parts.flatMap((p) => p.inet);
  const bridge = parts.flatMap((p) => p.bridge);
  return [
    '# nimbo: the ruleset of one nimbo daemon; generated, do not edit',
    `table inet ${table} {}`,
    `delete table inet ${table}`,
    `table bridge ${table} {}`,
    `delete table bridge ${table}`,
    `table inet ${table} {`,
    ...inet,
    '}',
    `table bridge ${table} {`,
    ...bridge,
    '}',
    '',
  ].join('\n');
}

/** A script that deletes both tables of a daemon (no error when absent). */
export function renderRulesetRemoval(table: string): string {
  validateNftTable(table);
  return `table inet ${table} {}\ndelete table inet ${table}\ntable bridge ${table} {}\ndelete table bridge ${table}\n`;
}
