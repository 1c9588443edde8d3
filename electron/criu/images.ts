/**
 * CRIU's image framing, enough to list a dump dir and to copy only what a restore needs.
 *
 * - Most images: u32 IMG_COMMON_MAGIC, u32 image magic, then repeated {u32 size, protobuf}.
 * - inventory.img: u32 INVENTORY_MAGIC alone, then entries.
 * - stats-dump, stats-restore, irmap-cache: u32 IMG_SERVICE_MAGIC, u32 magic, entries.
 * - pages-N.img: raw memory, no magic (crit: "Unknown magic ... raw data (i.e. pages.img)").
 * Some images carry extra raw payload after an entry (pipe data, ghost files); readImage() stops
 * at the first entry that does not fit and reports the rest as trailing bytes.
 */
import { FerryError } from '../../shared/errors.ts';
import { IMAGE_MAGICS, IMG_COMMON_MAGIC, IMG_SERVICE_MAGIC, INVENTORY_MAGIC, IRMAP_CACHE_MAGIC, STATS_MAGIC, hex32 } from './magic.ts';
import { ProtoReader, ProtobufError } from './protobuf.ts';

export type ImageFormat = 'common' | 'service' | 'inventory' | 'raw' | 'unknown';

/**
 * pages: memory (big; with a page server it is already on the target);
 * metadata: what `criu restore` needs besides pages (small, ~50 KB);
 * stats / cache / log / socket: byproducts of a run, not needed to restore.
 */
export type ImageKind = 'pages' | 'metadata' | 'stats' | 'cache' | 'log' | 'socket' | 'other';

export interface ImageFileInfo {
  name: string;
  kind: ImageKind;
  format: ImageFormat;
  /** The image's own magic (after the common/service magic), when it has one. */
  magic?: number;
  /** crit's name for it: 'CORE', 'PAGEMAP', 'INVENTORY', 'STATS', ... */
  magicName?: string;
}

const PAGES_NAME = /^pages-\d+\.img$/;

function u32(bytes: Uint8Array, off: number): number | undefined {
  if (bytes.length < off + 4) return undefined;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(off, true);
}

/**
 * Identify a file of a dump dir from its name and its first 8 bytes (more is fine). Names decide
 * for pages, logs and the lazy-pages socket; magics decide for the rest.
 */
export function identifyImage(name: string, head: Uint8Array = new Uint8Array()): ImageFileInfo {
  if (name.endsWith('.log')) return { name, kind: 'log', format: 'unknown' };
  if (name.endsWith('.socket')) return { name, kind: 'socket', format: 'unknown' };
  const m0 = u32(head, 0);
  const m1 = u32(head, 4);
  if (m0 === IMG_COMMON_MAGIC && m1 !== undefined) {
    const info: ImageFileInfo = { name, kind: 'metadata', format: 'common', magic: m1 };
    const n = IMAGE_MAGICS.get(m1);
    if (n) info.magicName = n;
    return info;
  }
  if (m0 === INVENTORY_MAGIC) return { name, kind: 'metadata', format: 'inventory', magic: INVENTORY_MAGIC, magicName: 'INVENTORY' };
  if (m0 === IMG_SERVICE_MAGIC && m1 !== undefined) {
    const kind: ImageKind = m1 === STATS_MAGIC ? 'stats' : m1 === IRMAP_CACHE_MAGIC ? 'cache' : 'other';
    const info: ImageFileInfo = { name, kind, format: 'service', magic: m1 };
    const n = IMAGE_MAGICS.get(m1);
    if (n) info.magicName = n;
    return info;
  }
  if (PAGES_NAME.test(name)) return { name, kind: 'pages', format: 'raw' };
  return { name, kind: 'other', format: 'unknown' };
}

/** Page images: never copied with the metadata (they go through the page server, or separately). */
export function isPageImage(name: string): boolean {
  return PAGES_NAME.test(name);
}

/**
 * The files of a final dump dir to copy to the target before `criu restore`: every metadata
 * image, not pages, logs, stats, caches or sockets. Files whose kind cannot be told from the
 * name alone need their first 8 bytes. The `parent` symlink is the caller's business.
 */
export function filesToCopyForRestore(files: readonly { name: string; head?: Uint8Array }[]): string[] {
  return files.filter((f) => identifyImage(f.name, f.head).kind === 'metadata').map((f) => f.name);
}

export interface CriuImage {
  format: Exclude<ImageFormat, 'raw' | 'unknown'>;
  magic: number;
  magicName?: string;
  /** Each entry's protobuf bytes (views into the input). */
  entries: Uint8Array[];
  /** Bytes after the last whole entry (extra payload of some images, or truncation). */
  trailingBytes: number;
}

function imageError(file: string, message: string): never {
  throw new FerryError({
    code: 'image-invalid',
    message: `${file}: ${message}`,
    hint: 'The image dir may be incomplete or damaged: dump again, or copy the dir again from the source.',
  });
}

/** Split a framed image into its entries. Throws FerryError 'image-invalid' for raw or unknown files. */
export function readImage(bytes: Uint8Array, file = 'image'): CriuImage {
  const m0 = u32(bytes, 0);
  if (m0 === undefined) imageError(file, `truncated: ${bytes.length} bytes, shorter than an image magic`);
  let format: CriuImage['format'];
  let magic: number;
  let off: number;
  if (m0 === INVENTORY_MAGIC) {
    format = 'inventory';
    magic = m0;
    off = 4;
  } else if (m0 === IMG_COMMON_MAGIC || m0 === IMG_SERVICE_MAGIC) {
    const m1 = u32(bytes, 4);
    if (m1 === undefined) imageError(file, 'truncated: the image magic is missing');
    format = m0 === IMG_COMMON_MAGIC ? 'common' : 'service';
    magic = m1;
    off = 8;
  } else {
    imageError(file, `not a framed CRIU image (first u32 ${hex32(m0)}); pages-*.img holds raw memory and has no magic`);
  }
  const entries: Uint8Array[] = [];
  while (off + 4 <= bytes.length) {
    const size = u32(bytes, off) as number;
    if (size > bytes.length - off - 4) break;
    entries.push(bytes.subarray(off + 4, off + 4 + size));
    off += 4 + size;
  }
  const out: CriuImage = { format, magic, entries, trailingBytes: bytes.length - off };
  const name = IMAGE_MAGICS.get(magic);
  if (name) out.magicName = name;
  return out;
}

// ---------------------------------------------------------------------------------------------
// pagemap

/** pagemap_entry.flags bits (images/pagemap.proto). */
export const PE_PARENT = 1 << 0;
export const PE_LAZY = 1 << 1;
export const PE_PRESENT = 1 << 2;

export interface PagemapEntry {
  /** Start address; a bigint since user addresses pass 2^53 on some arches. */
  vaddr: bigint;
  nrPages: number;
  inParent?: boolean;
  flags?: number;
}

export interface Pagemap {
  pagesId: number;
  entries: PagemapEntry[];
}

/** Decode pagemap-PID.img: a pagemap_head {pages_id} then one pagemap_entry per run of pages. */
export function decodePagemap(bytes: Uint8Array, file = 'pagemap image'): Pagemap {
  const img = readImage(bytes, file);
  if (img.magicName !== 'PAGEMAP') imageError(file, `is a ${img.magicName ?? hex32(img.magic)} image, not a PAGEMAP`);
  const [headEntry, ...rest] = img.entries;
  if (!headEntry) imageError(file, 'has no pagemap head');
  try {
    let pagesId = 0;
    const r = new ProtoReader(headEntry);
    while (!r.done) {
      const h = r.tag();
      if (h.field === 1 && h.wireType === 0) pagesId = r.uint32();
      else r.skip(h);
    }
    const entries = rest.map((e) => {
      const pe: PagemapEntry = { vaddr: 0n, nrPages: 0 };
      const er = new ProtoReader(e);
      while (!er.done) {
        const h = er.tag();
        if (h.wireType !== 0) er.skip(h);
        else if (h.field === 1) pe.vaddr = er.varint();
        else if (h.field === 2) pe.nrPages = er.uint32();
        else if (h.field === 3) pe.inParent = er.bool();
        else if (h.field === 4) pe.flags = er.uint32();
        else er.skip(h);
      }
      return pe;
    });
    return { pagesId, entries };
  } catch (e) {
    if (e instanceof ProtobufError) imageError(file, `${e.message} (at byte ${e.offset} of an entry)`);
    throw e;
  }
}

export interface PagemapSummary {
  /** All pages the pagemap covers. */
  totalPages: number;
  /** Pages stored in this dir's pages-N.img (present, not in the parent). */
  pagesHere: number;
  /** Pages to be read from the parent chain. */
  pagesInParent: number;
  /** Pages left to the lazy-pages daemon (post-copy dump): not in any pages-N.img. */
  pagesLazy: number;
}

export function summarizePagemap(p: Pagemap): PagemapSummary {
  const s: PagemapSummary = { totalPages: 0, pagesHere: 0, pagesInParent: 0, pagesLazy: 0 };
  for (const e of p.entries) {
    const flags = e.flags ?? (e.inParent ? PE_PARENT : PE_PRESENT);
    s.totalPages += e.nrPages;
    if (flags & PE_PARENT || e.inParent) s.pagesInParent += e.nrPages;
    else if (flags & PE_PRESENT) s.pagesHere += e.nrPages;
    // PE_LAZY alone: left to the lazy-pages daemon. PE_LAZY|PE_PRESENT (any ordinary dump) only
    // says the pages could have been lazy; they are in pages-N.img.
    else if (flags & PE_LAZY) s.pagesLazy += e.nrPages;
  }
  return s;
}
