/**
 * npm run bench:sampler — what the live dirty-set sampler costs on the source. Runs the same
 * program the engine runs (dirty.ts SAMPLER_SCRIPT, read-only) against
 *   1. a local process holding 1 GiB, every page touched, on this machine;
 *   2. the lab's demo workload in the source VM, as large as its 1 GiB of RAM allows;
 * and prints per sample the median CPU time and wall time, and the share of one core the
 * sampler takes at the default interval. Bounded: a fixed number of samples, each command
 * with a timeout.
 *
 *   npm run bench:sampler -- [--samples 20] [--local-mib 1024] [--lab-mib 512] [--no-lab] [--lab-slot N]
 */
import { execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { DEFAULT_SAMPLE_INTERVAL_MS, MAX_DUTY, median, parseSamplerLine, samplerArgv, type SamplerLine } from '../engine/dirty/dirty.ts';
import { labDown, labUp, startWorkload, workloadStatus } from '../lab/index.ts';
import { isolatedLab } from '../lab/testing.ts';
import { SshHub } from '../ssh/index.ts';
import { table } from '../cli/progress.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '20' },
    'local-mib': { type: 'string', default: '1024' },
    'lab-mib': { type: 'string', default: '512' },
    'no-lab': { type: 'boolean', default: false },
    'lab-slot': { type: 'string' },
  },
});
const samples = Math.min(200, Math.max(3, Number(values.samples)));
const localMib = Number(values['local-mib']);
const labMib = Number(values['lab-mib']);
// Samples a little apart so each one is a fresh pass, as in the engine.
const INTERVAL_MS = 100;

type Sample = Extract<SamplerLine, { kind: 'sample' }>;

function summarise(where: string, out: string): { row: string[]; softDirty: boolean } {
  const lines = out.split('\n').map(parseSamplerLine);
  const header = lines.find((l) => l?.kind === 'header');
  const ss = lines.filter((l): l is Sample => l?.kind === 'sample');
  if (ss.length === 0) throw new Error(`${where}: no samples in the sampler's output:\n${out.slice(0, 2000)}`);
  const cpu = median(ss.map((s) => s.cpuMs));
  const wall = median(ss.map((s) => s.wallMs));
  const present = median(ss.map((s) => s.presentPages));
  const dirty = median(ss.map((s) => s.dirtyPages));
  // The sampler spaces samples to stay under MAX_DUTY of a core; below it, the interval rules.
  const spacing = Math.max(DEFAULT_SAMPLE_INTERVAL_MS, wall, cpu / MAX_DUTY);
  const share = cpu / spacing;
  return {
    softDirty: header?.kind === 'header' && header.softDirty,
    row: [where, String(ss.length), `${Math.round(present)} (${((present * 4096) / 1048576).toFixed(0)} MiB)`, String(Math.round(dirty)), `${cpu.toFixed(1)} ms`, `${wall.toFixed(1)} ms`, `${(share * 100).toFixed(1)}% (every ${Math.round(spacing)} ms)`, `${((cpu / Math.max(DEFAULT_SAMPLE_INTERVAL_MS, wall)) * 100).toFixed(1)}%`],
  };
}

async function local(): Promise<ReturnType<typeof summarise>> {
  process.stderr.write(`local: allocating and touching ${localMib} MiB…\n`);
  const child = spawn('python3', ['-c', `import time\nb=bytearray(${localMib}<<20)\nfor i in range(0,len(b),4096): b[i]=1\nprint('ready',flush=True)\ntime.sleep(900)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.on('exit', (c) => reject(new Error(`the ${localMib} MiB process exited (${c})`)));
    });
    const argv = samplerArgv([child.pid!], { intervalMs: INTERVAL_MS, count: samples, deadlineMs: 240_000 });
    const r = await promisify(execFile)(argv[0]!, argv.slice(1), { timeout: 120_000, maxBuffer: 1 << 20 });
    return summarise(`this machine, ${localMib} MiB process`, r.stdout);
  } finally {
    child.kill('SIGKILL');
  }
}

async function lab(): Promise<ReturnType<typeof summarise>> {
  const slot = values['lab-slot'] !== undefined ? isolatedLab('ferry-bench-sampler-', Number(values['lab-slot'])) : undefined;
  const env = slot?.env ?? process.env;
  process.stderr.write(`lab up…\n`);
  // Generous: TCG boots slowly on a busy machine.
  await labUp({ env, sshTimeoutMs: 420_000, ...(slot ? { ports: slot.ports } : {}) });
  const hub = new SshHub({ env });
  try {
    const s = hub.session('lab-source');
    await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
    const name = `bench-sampler-${Date.now()}`;
    process.stderr.write(`lab: starting a ${labMib} MiB workload (filling it takes a while under TCG)…\n`);
    const wl = await startWorkload({ env, host: 'source', mib: labMib, rate: 1000, name }, hub);
    const until = Date.now() + 10 * 60_000;
    for (;;) {
      const st = await workloadStatus('source', { env, name }, hub).catch(() => undefined);
      if (st && st.counter > 0) break;
      if (Date.now() > until) throw new Error('the lab workload did not start counting within 10 minutes');
      await new Promise((r) => setTimeout(r, 2000));
    }
    const r = await s.exec(samplerArgv([wl.pid], { intervalMs: INTERVAL_MS, count: samples, deadlineMs: 240_000 }), { timeoutMs: 300_000 });
    await s.exec(['pkill', '-KILL', '-f', '/usr/local/bin/ferry-workload']);
    if (r.code !== 0) throw new Error(`the sampler failed in the lab (exit ${r.code}): ${r.stderr.trim().split('\n').pop()}`);
    return summarise(`lab source VM (TCG), ${labMib} MiB workload`, r.stdout);
  } finally {
    await hub.closeAll();
    // A lab of the bench's own is stopped again; the user's lab is left as it was.
    if (slot) {
      await labDown({ env });
      rmSync(slot.root, { recursive: true, force: true });
    }
  }
}

async function main() {
  const rows: ReturnType<typeof summarise>[] = [await local()];
  if (!values['no-lab']) rows.push(await lab());
  process.stdout.write(`\nbench:sampler — ${samples} samples each; medians per sample; share of one core at the default ${DEFAULT_SAMPLE_INTERVAL_MS} ms interval, with the sampler's ${MAX_DUTY * 100}% ceiling and without it\n\n`);
  process.stdout.write(`${table(['where', 'samples', 'present pages', 'dirty pages', 'CPU / sample', 'wall / sample', 'share of one core', 'uncapped'], rows.map((r) => r.row))}\n`);
  for (const r of rows) if (!r.softDirty) process.stdout.write(`\nnote: ${r.row[0]}: this kernel does not track soft-dirty pages (dirty counts are 0; the cost is the same work)\n`);
}

main().catch((e) => {
  process.stderr.write(`bench:sampler: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
