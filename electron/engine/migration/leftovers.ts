/**
 * What a failed or rolled-back migration leaves on the hosts, and what it must not:
 *
 * - CRIU's logs stay after a failed CRIU step (only the logs: `*.log`, and the `*.out` files
 *   where the post-copy commands that outlive the console write their own output), in
 *   `<workDir>/<id>.logs/` on each host, where the error says; the images go as before.
 * - Files Ferry copied to the target at cutover (files to sync) that did not exist there
 *   before are removed at rollback, with the directories the copy created; nothing that was
 *   there before is touched.
 * - The restored tree gets a systemd scope of its own (`ferry-<id>.scope`) where the target
 *   runs systemd, instead of the sshd service's cgroup of the SSH session that restored it.
 *
 * Each is an argv (sh -c 'script' NAME ARG...: never a shell string glued from input).
 */

/** Where a failed migration's CRIU logs are kept on each host. */
export const keptLogsDir = (workDir: string, id: string): string => `${workDir}/${id}.logs`;

/**
 * Keep only the logs: delete everything else under DIR (images first, which frees the space a
 * full disk needs), then rename DIR to KEEP. A rename needs no space, so this works on the
 * disk whose filling made the migration fail.
 */
export function keepLogsThenDeleteArgv(dir: string, keep: string): string[] {
  return [
    'sh',
    '-c',
    '[ -d "$1" ] || exit 0; find "$1" ! -type d ! -name "*.log" ! -name "*.out" -delete && find "$1" -mindepth 1 -type d -empty -delete && mv -T -- "$1" "$2"',
    'ferry-keep-logs',
    dir,
    keep,
  ];
}

/** Print (one per line) each of FILES absent on this host, and each absent directory above it. */
export function absentPathsArgv(files: readonly string[]): string[] {
  return [
    'sh',
    '-c',
    'for f; do [ -e "$f" ] && continue; printf "%s\\n" "$f"; p=$(dirname -- "$f"); while [ ! -e "$p" ]; do printf "%s/\\n" "$p"; p=$(dirname -- "$p"); done; done',
    'ferry-absent',
    ...files,
  ];
}

/** Parse absentPathsArgv's output: files, and directories (deepest first). */
export function parseAbsent(stdout: string): { files: string[]; dirs: string[] } {
  const lines = [...new Set(stdout.split('\n').filter((l) => l.startsWith('/')))];
  const files = lines.filter((l) => !l.endsWith('/'));
  const dirs = lines
    .filter((l) => l.endsWith('/'))
    .map((l) => l.slice(0, -1))
    .sort((a, b) => b.split('/').length - a.split('/').length);
  return { files, dirs };
}

/** Remove the files Ferry created, then the directories it created if they are empty. */
export function removeCreatedArgv(created: { files: string[]; dirs: string[] }): string[] {
  return ['sh', '-c', 'n=$1; shift; i=0; for p; do i=$((i+1)); if [ "$i" -le "$n" ]; then rm -f -- "$p"; else rmdir -- "$p" 2>/dev/null; fi; done; exit 0', 'ferry-remove-created', String(created.files.length), ...created.files, ...created.dirs];
}

/** The unit that holds a restored tree. */
export const scopeUnit = (id: string): string => `ferry-${id}`;

/** Exit 0 when the host runs systemd as init (sd_booted) and has systemd-run. */
export const systemdProbeArgv = ['sh', '-c', 'test -d /run/systemd/system && command -v systemd-run >/dev/null'];

/**
 * Run a restore in a transient scope of its own: the restored tree lands in that scope's
 * cgroup (criu is told to leave cgroups alone, so its children stay where it runs).
 */
export function inScope(unit: string, description: string, argv: string[]): string[] {
  return ['systemd-run', '--scope', '--quiet', '--collect', `--unit=${unit}`, `--description=${description}`, '--', ...argv];
}
