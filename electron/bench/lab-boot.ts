/**
 * npm run bench:lab — figures, not a pass/fail test: how long `lab up` takes to bring both VMs
 * to SSH-ready (a) booting cold (kernel + systemd) and (b) resuming them from their saved
 * post-boot states, alternating, --runs N of each (default 3), and the medians side by side.
 * It uses its own lab (slot 18). Each `up`+`down` takes the lab lock on its own (it runs as a
 * child under `flock`), so other lab users can go between runs. On a busy machine, where
 * waiting for the lock seven times takes longer than the runs, hold it once instead:
 *
 *   npm run bench:lab -- [--runs 3] [--lock /tmp/ferry-lab.lock]
 *   flock /tmp/ferry-lab.lock npm run bench:lab -- --lock held
 *
 * With no saved state yet, a first `up` boots cold and saves them (shown as "prime").
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import { labDown, labUp, type LabUpResult } from '../lab/index.ts';
import { isolatedLab } from '../lab/testing.ts';
import { LAB_HOSTS, labAlias } from '../lab/types.ts';
import { SshHub } from '../ssh/index.ts';

const SLOT = 18;
const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, lock: { type: 'string', default: '/tmp/ferry-lab.lock' }, one: { type: 'string' } } });

type Mode = 'cold' | 'auto';
interface Row {
  mode: Mode;
  bootMs: number;
  perVm: Record<string, number>;
  how: string;
  skew: string;
  /** Per VM after up: clock offset measured again, first urandom bytes, boot_id (a resume is the same boot). */
  facts: string[];
}

/** One `up` and `down` of the bench's lab, in this process (the parent holds no lock). */
async function one(mode: Mode): Promise<Row> {
  const { root, env, ports } = isolatedLab('ferry-bench-lab-', SLOT);
  let up: LabUpResult | undefined;
  const facts: string[] = [];
  try {
    up = await labUp({ env, ports, boot: mode, sshTimeoutMs: 420_000 }, (p) => {
      if (p.done || p.fraction === undefined) if (!p.active) process.stderr.write(`    ${p.step}${p.host ? `[${p.host}]` : ''}: ${p.message}\n`);
    });
    // What a resume must not leave wrong: the clock, and the random bytes every copy would draw.
    const hub = new SshHub({ env });
    try {
      for (const h of LAB_HOSTS) {
        const t1 = Date.now();
        const r = await hub.session(labAlias(h)).exec(['sh', '-c', 'date -u +%s.%N; head -c 8 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo; cut -c1-8 /proc/sys/kernel/random/boot_id'], { timeoutMs: 60_000 });
        const t2 = Date.now();
        const [date, random, bootId] = r.stdout.trim().split('\n');
        facts.push(`${h}: clock ${Math.round(Number(date) * 1000 - (t1 + t2) / 2)} ms, urandom ${random}, boot ${bootId}`);
      }
    } finally {
      await hub.closeAll();
    }
    process.stderr.write(`    after up: ${facts.join('; ')}\n`);
  } finally {
    await labDown({ env });
    rmSync(root, { recursive: true, force: true });
  }
  const b = up!.boot;
  return {
    mode,
    bootMs: up!.timings.bootMs,
    perVm: up!.timings.perVm,
    how: LAB_HOSTS.map((h) => `${b?.[h]?.how ?? '?'}${b?.[h]?.saved ? '+saved' : ''}${b?.[h]?.fallback ? '!' : ''}`).join('/'),
    skew: LAB_HOSTS.map((h) => (b?.[h]?.clockSkewMs === undefined ? '-' : `${b[h]!.clockSkewMs}`)).join('/'),
    facts,
  };
}

async function child(mode: Mode): Promise<Row> {
  if (values.lock === 'held') return one(mode);
  const r = await execa('flock', [values.lock!, process.execPath, '--import', 'tsx', fileURLToPath(import.meta.url), '--one', mode], { stderr: 'inherit', reject: false });
  if (r.exitCode !== 0) throw new Error(`the ${mode} run failed (exit ${r.exitCode})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Row;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

async function main() {
  if (values.one) {
    process.stdout.write(`${JSON.stringify(await one(values.one as Mode))}\n`);
    return;
  }
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a whole number, 1 or more');
  const t0 = Date.now();
  process.stderr.write(`prime: resume if a state is saved, else boot cold and save one\n`);
  const prime = await child('auto');
  const rows: Row[] = [];
  for (let i = 1; i <= runs; i++) {
    for (const mode of ['cold', 'auto'] as const) {
      process.stderr.write(`run ${i}/${runs}: ${mode === 'cold' ? 'cold boot' : 'resume'}\n`);
      const r = await child(mode);
      process.stderr.write(`  -> ${sec(r.bootMs)} (${r.how})\n`);
      rows.push(r);
    }
  }
  const line = (label: string, rs: Row[]) =>
    `${label.padEnd(8)} ${sec(median(rs.map((r) => r.bootMs))).padStart(8)}   ${LAB_HOSTS.map((h) => sec(median(rs.map((r) => r.perVm[h]!))).padStart(8)).join(' ')}   ${rs.map((r) => sec(r.bootMs)).join(', ')}   ${rs.map((r) => r.how).join(', ')}`;
  const cold = rows.filter((r) => r.mode === 'cold');
  const resumed = rows.filter((r) => r.mode === 'auto');
  const out = [
    `bench:lab — both VMs to SSH-ready (and, after a resume, clock set), median of ${runs}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all`,
    '',
    `${'boot'.padEnd(8)} ${'median'.padStart(8)}   ${LAB_HOSTS.map((h) => h.padStart(8)).join(' ')}   runs   how (source/target)`,
    line('cold', cold),
    line('resume', resumed),
    '',
    `speed-up: ${(median(cold.map((r) => r.bootMs)) / median(resumed.map((r) => r.bootMs))).toFixed(1)}x; prime run ${sec(prime.bootMs)} (${prime.how}); clock offset after resume, ms: ${resumed.map((r) => r.skew).join(', ')}`,
  ];
  out.push('', 'after each up (clock offset from the host, first urandom bytes, boot_id: resumes continue the saved boot):');
  for (const r of [prime, ...rows]) out.push(`  ${r === prime ? 'prime' : r.mode === 'cold' ? 'cold' : 'resume'}: ${r.facts.join('; ')}`);
  process.stdout.write(`\n${out.join('\n')}\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
