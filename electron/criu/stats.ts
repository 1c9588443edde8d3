/**
 * Decoder for CRIU's `stats-dump` and `stats-restore` (crit is not on users' laptops).
 *
 * Layout (little-endian): u32 IMG_SERVICE_MAGIC, u32 STATS_MAGIC, u32 payload length N, then N
 * bytes of proto2 `stats_entry { optional dump_stats_entry dump = 1; optional restore_stats_entry
 * restore = 2; }`. Times are microseconds in uint32 (they wrap after ~71 minutes).
 */
import { FerryError } from '../../shared/errors.ts';
import { IMG_SERVICE_MAGIC, STATS_MAGIC, describeMagic, hex32 } from './magic.ts';
import { ProtoReader, ProtobufError, WIRE_LEN, WIRE_VARINT, wireTypeName } from './protobuf.ts';

export interface DumpStats {
  kind: 'dump';
  freezingTimeUs?: number;
  /** The tree was frozen this long: the source-side downtime of a final dump. */
  frozenTimeUs?: number;
  memdumpTimeUs?: number;
  memwriteTimeUs?: number;
  /** Inflated on final dumps in 3.17.1 (98862 vs 36462 in the pre-dumps): not a VMA size. */
  pagesScanned?: number;
  /** Pages unchanged since the parent (pre-)dump: the convergence signal. */
  pagesSkippedParent?: number;
  pagesWritten?: number;
  irmapResolveUs?: number;
  pagesLazy?: number;
  pagePipes?: number;
  pagePipeBufs?: number;
  shpagesScanned?: number;
  shpagesSkippedParent?: number;
  shpagesWritten?: number;
}

export interface RestoreStats {
  kind: 'restore';
  pagesCompared?: number;
  pagesSkippedCow?: number;
  forkingTimeUs?: number;
  restoreTimeUs?: number;
  pagesRestored?: number;
}

export type CriuStats = DumpStats | RestoreStats;

type Key<T> = Exclude<keyof T, 'kind'>;

/** Field number -> [crit's name, our name, protobuf type]. */
export const DUMP_STATS_FIELDS: ReadonlyMap<number, readonly [string, Key<DumpStats>, 'uint32' | 'uint64']> = new Map([
  [1, ['freezing_time', 'freezingTimeUs', 'uint32']],
  [2, ['frozen_time', 'frozenTimeUs', 'uint32']],
  [3, ['memdump_time', 'memdumpTimeUs', 'uint32']],
  [4, ['memwrite_time', 'memwriteTimeUs', 'uint32']],
  [5, ['pages_scanned', 'pagesScanned', 'uint64']],
  [6, ['pages_skipped_parent', 'pagesSkippedParent', 'uint64']],
  [7, ['pages_written', 'pagesWritten', 'uint64']],
  [8, ['irmap_resolve', 'irmapResolveUs', 'uint32']],
  [9, ['pages_lazy', 'pagesLazy', 'uint64']],
  [10, ['page_pipes', 'pagePipes', 'uint64']],
  [11, ['page_pipe_bufs', 'pagePipeBufs', 'uint64']],
  [12, ['shpages_scanned', 'shpagesScanned', 'uint64']],
  [13, ['shpages_skipped_parent', 'shpagesSkippedParent', 'uint64']],
  [14, ['shpages_written', 'shpagesWritten', 'uint64']],
] as const);

export const RESTORE_STATS_FIELDS: ReadonlyMap<number, readonly [string, Key<RestoreStats>, 'uint32' | 'uint64']> = new Map([
  [1, ['pages_compared', 'pagesCompared', 'uint64']],
  [2, ['pages_skipped_cow', 'pagesSkippedCow', 'uint64']],
  [3, ['forking_time', 'forkingTimeUs', 'uint32']],
  [4, ['restore_time', 'restoreTimeUs', 'uint32']],
  [5, ['pages_restored', 'pagesRestored', 'uint64']],
] as const);

const HINT = 'Read stats-dump / stats-restore from the work dir (-W, else -D) of a criu run that succeeded; the page server writes none.';

function fail(file: string, message: string, evidence?: string): never {
  throw new FerryError({ code: 'stats-image-invalid', message: `${file}: ${message}`, hint: HINT, evidence });
}

function decodeSub<T extends object>(
  r: ProtoReader,
  end: number,
  fields: ReadonlyMap<number, readonly [string, string, 'uint32' | 'uint64']>,
  into: T,
  what: string,
): void {
  const sub = new ProtoReader(r.buf, r.pos, end);
  const target = into as Record<string, number>;
  while (!sub.done) {
    const h = sub.tag();
    const known = fields.get(h.field);
    if (!known) {
      sub.skip(h); // newer CRIU may add fields
      continue;
    }
    if (h.wireType !== WIRE_VARINT) {
      throw new ProtobufError(`${what}.${known[0]} (field ${h.field}) has wire type ${wireTypeName(h.wireType)}, expected varint`, h.at);
    }
    target[known[1]] = known[2] === 'uint32' ? sub.uint32() : sub.uint64();
  }
}

/**
 * Decode a stats-dump or stats-restore file. `file` only names it in errors.
 * Fields absent from the image stay undefined (not 0).
 */
export function decodeStats(bytes: Uint8Array, file = 'stats image'): CriuStats {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // A wrong magic says more than "too short", so check it first whenever it is there.
  if (bytes.length >= 8) {
    const m0 = dv.getUint32(0, true);
    const m1 = dv.getUint32(4, true);
    if (m0 !== IMG_SERVICE_MAGIC || m1 !== STATS_MAGIC) {
      fail(file, `not a CRIU stats image: found magic ${hex32(m0)} ${hex32(m1)}, expected ${hex32(IMG_SERVICE_MAGIC)} ${hex32(STATS_MAGIC)}; this is ${describeMagic(m0, m1)}`);
    }
  }
  if (bytes.length < 12) {
    fail(file, `truncated: ${bytes.length} bytes, a CRIU stats image has at least a 12-byte header`);
  }
  const n = dv.getUint32(8, true);
  if (bytes.length - 12 < n) {
    fail(file, `truncated: header announces a ${n}-byte entry but only ${bytes.length - 12} bytes follow`);
  }
  // Bytes after the entry are ignored: CRIU writes exactly one entry and nothing after it.
  const r = new ProtoReader(bytes, 12, 12 + n);
  let dumpStats: DumpStats | undefined;
  let restoreStats: RestoreStats | undefined;
  try {
    while (!r.done) {
      const h = r.tag();
      if (h.field !== 1 && h.field !== 2) {
        r.skip(h);
        continue;
      }
      const name = h.field === 1 ? 'dump' : 'restore';
      if (h.wireType !== WIRE_LEN) {
        throw new ProtobufError(`stats_entry.${name} (field ${h.field}) has wire type ${wireTypeName(h.wireType)}, expected length-delimited`, h.at);
      }
      const { start, end } = r.lengthDelimited();
      const sub = new ProtoReader(bytes, start, end);
      // Repeated occurrences of a message field merge, as protobuf specifies.
      if (h.field === 1) decodeSub(sub, end, DUMP_STATS_FIELDS, (dumpStats ??= { kind: 'dump' }), name);
      else decodeSub(sub, end, RESTORE_STATS_FIELDS, (restoreStats ??= { kind: 'restore' }), name);
    }
  } catch (e) {
    if (e instanceof ProtobufError) fail(file, `${e.message} (at byte ${e.offset})`);
    throw e;
  }
  if (dumpStats && restoreStats) fail(file, 'holds both dump and restore stats; CRIU writes one or the other');
  const out = dumpStats ?? restoreStats;
  if (!out) fail(file, 'holds neither dump nor restore stats');
  return out;
}

/**
 * Reasons not to trust a dump's numbers. 3.17.1 writes garbage stats for `dump --lazy-pages`
 * (all zero, frozen_time 3810034065); final dumps' pages_scanned is inflated (not checked here:
 * it needs the pre-dumps to compare with).
 */
export function dumpStatsAnomalies(s: DumpStats): string[] {
  const out: string[] = [];
  const pages = (s.pagesScanned ?? 0) + (s.pagesWritten ?? 0) + (s.pagesSkippedParent ?? 0) + (s.pagesLazy ?? 0);
  if (pages === 0 && (s.frozenTimeUs ?? 0) > 0 && (s.freezingTimeUs ?? 0) === 0) {
    out.push('no page counters and no freezing time, only a frozen time: the stats of a --lazy-pages dump (garbage in CRIU 3.17)');
  }
  // Times are uint32 microseconds; past 2^31 (~36 min) a freeze is implausible and more likely garbage or a wrap.
  for (const k of ['freezingTimeUs', 'frozenTimeUs', 'memdumpTimeUs', 'memwriteTimeUs'] as const) {
    const v = s[k];
    if (v !== undefined && v >= 2 ** 31) out.push(`${k} = ${v} µs (over 35 minutes) is implausible`);
  }
  return out;
}
