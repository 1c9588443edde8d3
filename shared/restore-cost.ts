/**
 * What the restore will cost on the target, and where its cliff is. Pure functions: no Node,
 * no DOM (the estimate uses them in the engine and in the renderer).
 *
 * ## The cliff
 * `criu restore` reads every page image (the parent chain included) into the restored
 * process's memory. While images and the restored process both fit in the target's memory,
 * the images are read from the page cache the page server just filled. Once they do not, the
 * restored process pushes the images out of the cache as it grows and the restore reads them
 * from disk, page by page: in the 1 GiB lab VMs a 512 MiB process (132755 pages) restored in
 * 21 s, against 1.3 s for 34354 pages of a 128 MiB one (docs/CRIU.md). The rule:
 *
 *     need = images + restored resident memory        fits = need <= MemAvailable
 *
 * MemAvailable already counts reclaimable page cache (the images themselves, if cached) as
 * available, so the two are compared as they are.
 */

const PAGE_SIZE = 4096;
const MiB = 1024 * 1024;
const mib = (b: number) => `${Math.round(b / MiB)} MiB`;

export interface RestoreMemoryInput {
  /** The target's MemAvailable, bytes. */
  memAvailableBytes: number;
  /** Page images the restore will read (every page of the process), bytes. */
  imagesBytes: number;
  /** Resident memory of the restored tree, bytes (default: as much as the images). */
  residentBytes?: number;
}

export interface RestoreMemory {
  fits: boolean;
  needBytes: number;
  availableBytes: number;
  /** How much is missing (0 when it fits). */
  shortBytes: number;
  /** In words, with the numbers. */
  detail: string;
}

/** Do the images and the restored process fit in the target's memory together? */
export function restoreMemory(input: RestoreMemoryInput): RestoreMemory {
  const images = Math.max(0, input.imagesBytes);
  const resident = Math.max(0, input.residentBytes ?? images);
  const needBytes = images + resident;
  const availableBytes = Math.max(0, input.memAvailableBytes);
  const fits = needBytes <= availableBytes;
  const shortBytes = fits ? 0 : needBytes - availableBytes;
  const sum = `images ${mib(images)} + restored process ${mib(resident)} = ${mib(needBytes)}`;
  const detail = fits
    ? `${sum} fit in the target's ${mib(availableBytes)} available: the restore reads its pages from the page cache`
    : `${sum} do not fit in the target's ${mib(availableBytes)} available (${mib(shortBytes)} short): the restore will read its pages from disk, at the slower rate`;
  return { fits, needBytes, availableBytes, shortBytes, detail };
}

/**
 * Preflight's verdict on the cliff, before anything is dumped: the images will be about the
 * tree's resident memory, and so will the restored process.
 * - warn when the two do not fit together (the restore will be slow, the estimate says by how much);
 * - fail when even the restored process alone does not fit (the restore cannot succeed).
 */
export function restoreMemoryCheck(memAvailableBytes: number, residentBytes: number): { status: 'pass' | 'warn' | 'fail'; detail: string } {
  const m = restoreMemory({ memAvailableBytes, imagesBytes: residentBytes, residentBytes });
  if (m.fits) return { status: 'pass', detail: m.detail };
  if (residentBytes > memAvailableBytes) {
    return { status: 'fail', detail: `the restored process alone needs ${mib(residentBytes)}, the target has ${mib(memAvailableBytes)} available` };
  }
  return { status: 'warn', detail: m.detail };
}

// ---------------------------------------------------------------------------------------------
// The read probe: `dd` of the page images already on the target

/**
 * Bytes and seconds from GNU dd's closing lines on stderr, summed over every file read
 * ("8388608 bytes (8.4 MB, 8.0 MiB) copied, 0.0205154 s, 409 MB/s"; "0 bytes copied, ..."
 * for an empty file). Undefined when dd printed no such line (it failed or was killed).
 */
export function parseDdTotals(stderr: string): { bytes: number; seconds: number } | undefined {
  let bytes = 0;
  let seconds = 0;
  let found = false;
  for (const m of stderr.matchAll(/^(\d+) bytes(?: \([^)]*\))? copied, ([\d.]+(?:e[-+]?\d+)?) s\b/gm)) {
    bytes += Number(m[1]);
    seconds += Number(m[2]);
    found = true;
  }
  return found ? { bytes, seconds } : undefined;
}

/** What the engine measured on the target during pre-copy, outside the freeze window. */
export interface RestoreProbe {
  /** Page-image bytes read through the page cache (the way restore reads them) and the time it took. */
  readBytes: number;
  readMs: number;
  /** The same bytes read past the page cache (O_DIRECT): what a restore over the cliff pays per page. */
  coldReadBytes?: number;
  coldReadMs?: number;
  /** The target's MemAvailable when it was measured. */
  memAvailableBytes?: number;
}

/** ms per 4 KiB page of a read, or undefined when nothing (or no time) was measured. */
export function msPerPage(bytes: number | undefined, ms: number | undefined): number | undefined {
  if (!bytes || bytes < PAGE_SIZE || ms === undefined || !(ms > 0)) return undefined;
  return ms / (bytes / PAGE_SIZE);
}
