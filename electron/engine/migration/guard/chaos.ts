/**
 * `npm run chaos`: the whole cutover fault matrix (phase x fault) in a lab of its own, one
 * boot, and a table: phase, fault, outcome, where the process runs, seconds to settle.
 * Long (tens of minutes under TCG): CI runs the subset in faults.lab.test.ts. Take the lab
 * lock first: `flock /tmp/ferry-lab.lock npm run chaos`. Options: --phase P, --fault F (repeat
 * to narrow), --slot N (default 14), --mode precopy|postcopy (default both: the pre-copy/cold
 * matrix, then post-copy's phases), --settle-s N (how long a cell may take to settle, default 360).
 */
import { labDown, labUp } from '../../../lab/index.ts';
import { isolatedLab } from '../../../lab/testing.ts';
import { SshHub } from '../../../ssh/index.ts';
import { cleanCell, FAULTS, PHASES, POSTCOPY_PHASES, row, runCell, TABLE_HEAD, type CellMode, type Fault, type FaultPhase } from './faults.testing.ts';
import { rmSync } from 'node:fs';

/** Cells that cannot happen: the page server lives only while pages stream (pre-copy, final dump). */
const possible = (phase: FaultPhase, fault: Fault) => fault !== 'page-server-killed' || phase === 'precopy' || phase === 'final-dump';
/** Post-copy has no page server on the target (the source's lazy dump serves the pages). */
const possiblePostcopy = (_phase: FaultPhase, fault: Fault) => fault !== 'page-server-killed';

async function main(argv: string[]): Promise<number> {
  const pick = (flag: string) => argv.flatMap((a, i) => (a === flag && argv[i + 1] ? [argv[i + 1]!] : []));
  const faults = (pick('--fault').length ? pick('--fault') : FAULTS) as Fault[];
  const slot = Number(pick('--slot')[0] ?? 14);
  const settleMs = Number(pick('--settle-s')[0] ?? 360) * 1000;
  const modes = (pick('--mode').length ? pick('--mode') : ['precopy', 'postcopy']) as ('precopy' | 'postcopy')[];
  // Pre-copy's matrix (cold, pre-copy for its own phase), then post-copy's (every cell in post-copy mode).
  const cells: { mode?: CellMode; phase: FaultPhase; fault: Fault }[] = [];
  for (const m of modes) {
    const all: readonly FaultPhase[] = m === 'postcopy' ? POSTCOPY_PHASES : PHASES;
    const phases = pick('--phase').length ? all.filter((p) => pick('--phase').includes(p)) : all;
    for (const phase of phases) for (const fault of faults) if ((m === 'postcopy' ? possiblePostcopy : possible)(phase, fault)) cells.push({ mode: m === 'postcopy' ? 'postcopy' : undefined, phase, fault });
  }
  const { root, env, ports } = isolatedLab('ferry-chaos-', slot);
  process.stdout.write(`booting the chaos lab (slot ${slot})...\n`);
  await labUp({ env, ports, sshTimeoutMs: 420_000 });
  const hub = new SshHub({ env });
  const lab = { env, hub };
  const rows: string[] = [];
  let bad = 0;
  try {
    for (const { mode, phase, fault } of cells) {
      await cleanCell(lab);
      const r = await runCell(lab, { phase, faults: [fault], name: `c${rows.length}`, mode, settleMs, delayMs: phase === 'restore' || phase === 'postcopy' ? 1000 : 300 });
      const ok = r.injected && r.bothSeen === 0 && (r.where === 'source' || r.where === 'target') && r.verify === 'OK' && !r.leftovers;
      if (!ok) bad += 1;
      rows.push(`${row(r)}${ok ? '' : ' **FAIL**'}`);
      process.stdout.write(`${rows[rows.length - 1]}${r.notes.length ? `  (${r.notes.join('; ')})` : ''}\n`);
    }
  } finally {
    await cleanCell(lab).catch(() => undefined);
    await hub.closeAll();
    await labDown({ env });
    rmSync(root, { recursive: true, force: true });
  }
  process.stdout.write(`\n${TABLE_HEAD}\n${rows.join('\n')}\n\n${rows.length - bad}/${rows.length} cells ended with exactly one running copy, the workload intact and nothing left behind.\n`);
  return bad ? 1 : 0;
}

// Exit at once: a cell's bounded waits (timers) would otherwise keep the process for minutes.
process.exit(await main(process.argv.slice(2)));
