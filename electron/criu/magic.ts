/**
 * CRIU image magics (criu/include/magic.h, 3.17). Images start with IMG_COMMON_MAGIC then their
 * own magic; service files (stats-dump, stats-restore, irmap-cache) with IMG_SERVICE_MAGIC then
 * theirs; inventory.img with its magic alone; pages-*.img is raw memory with no magic at all.
 */
export const IMG_COMMON_MAGIC = 0x54564319; // Sarov
export const IMG_SERVICE_MAGIC = 0x55105940; // Zlatoust
export const INVENTORY_MAGIC = 0x58313116; // Veliky Novgorod
export const STATS_MAGIC = 0x57093306; // Ostashkov
export const IRMAP_CACHE_MAGIC = 0x57004059; // Ivanovo

/** Per-image magics, keyed by value, named as crit names them. */
export const IMAGE_MAGICS: ReadonlyMap<number, string> = new Map([
  [INVENTORY_MAGIC, 'INVENTORY'],
  [0x50273030, 'PSTREE'],
  [0x56213732, 'FDINFO'],
  [0x56084025, 'PAGEMAP'],
  [0x55053847, 'CORE'],
  [0x54432030, 'IDS'],
  [0x54123737, 'VMAS'],
  [0x56513555, 'PIPES'],
  [0x56453709, 'PIPES_DATA'],
  [0x58364939, 'FIFO'],
  [0x55344201, 'SIGACT'],
  [0x54373943, 'UNIXSK'],
  [0x56443851, 'INETSK'],
  [0x60454618, 'PACKETSK'],
  [0x57464056, 'ITIMERS'],
  [0x52603957, 'POSIX_TIMERS'],
  [0x56264026, 'SK_QUEUES'],
  [0x54473203, 'UTSNS'],
  [0x54023547, 'CREDS'],
  [0x53115007, 'IPC_VAR'],
  [0x46283044, 'IPCNS_SHM'],
  [0x55453737, 'IPCNS_MSG'],
  [0x59573019, 'IPCNS_SEM'],
  [0x50363636, 'REG_FILES'],
  [0x59255641, 'EXT_FILES'],
  [0x51403912, 'FS'],
  [0x57492820, 'MM'],
  [0x59133954, 'REMAP_FPATH'],
  [0x52583605, 'GHOST_FILE'],
  [0x51465506, 'TCP_STREAM'],
  [0x44523722, 'EVENTFD_FILE'],
  [0x45023858, 'EVENTPOLL_FILE'],
  [0x44433746, 'EVENTPOLL_TFD'],
  [0x57323820, 'SIGNALFD'],
  [0x48424431, 'INOTIFY_FILE'],
  [0x54562009, 'INOTIFY_WD'],
  [0x55563928, 'MNTS'],
  [0x57373951, 'NETDEV'],
  [0x55933752, 'NETNS'],
  [0x59433025, 'TTY_FILES'],
  [0x59453036, 'TTY_INFO'],
  [0x59413026, 'TTY_DATA'],
  [0x54323616, 'FILE_LOCKS'],
  [0x57113925, 'RLIMIT'],
  [0x55096122, 'FANOTIFY_FILE'],
  [0x56506035, 'FANOTIFY_MARK'],
  [0x59255647, 'SIGNAL'],
  [0x58005614, 'NETLINK_SK'],
  [0x61394011, 'NS_FILES'],
  [0x57143751, 'TUNFILE'],
  [0x59383330, 'CGROUP'],
  [0x50493712, 'TIMERFD'],
  [0x61404013, 'CPUINFO'],
  [0x55474906, 'USERNS'],
  [0x64413049, 'SECCOMP'],
  [0x67343323, 'BINFMT_MISC'],
  [0x49353943, 'AUTOFS'],
  [0x56303138, 'FILES'],
  [0x48453499, 'MEMFD_INODE'],
  [0x43114433, 'TIMENS'],
  [0x61157326, 'PIDNS'],
  [0x57506142, 'BPFMAP_FILE'],
  [0x64324033, 'BPFMAP_DATA'],
  [0x59423047, 'APPARMOR'],
  [STATS_MAGIC, 'STATS'],
  [IRMAP_CACHE_MAGIC, 'IRMAP_CACHE'],
]);

export function hex32(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}

/** A short, human name for a leading u32, for "this is not X, it looks like Y" messages. */
export function describeMagic(first: number, second?: number): string {
  if (first === IMG_COMMON_MAGIC) {
    const name = second !== undefined ? IMAGE_MAGICS.get(second) : undefined;
    return `a CRIU ${name ? `${name} ` : ''}image (common magic ${hex32(IMG_COMMON_MAGIC)}${second !== undefined ? `, image magic ${hex32(second)}` : ''})`;
  }
  if (first === IMG_SERVICE_MAGIC) {
    const name = second !== undefined ? IMAGE_MAGICS.get(second) : undefined;
    return `a CRIU ${name ? `${name} ` : ''}service file (service magic ${hex32(IMG_SERVICE_MAGIC)}${second !== undefined ? `, magic ${hex32(second)}` : ''})`;
  }
  if (first === INVENTORY_MAGIC) return `a CRIU inventory image (magic ${hex32(INVENTORY_MAGIC)})`;
  return `not a CRIU image (magic ${hex32(first)})`;
}
