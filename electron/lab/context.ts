import path from 'node:path';
import { ferryFiles, ferryPaths } from '../paths.ts';

/** Every path the lab uses, resolved from one environment (tests pass FERRY_HOME / FERRY_LAB_CACHE). */
export interface LabPaths {
  /** Per-user cache: the built image and its keys (kept across `down`, removed by `destroy`). */
  cacheDir: string;
  /** The built image: base.img, vmlinuz, initrd.img, lab key, host keys, manifest.json. */
  imageDir: string;
  /** debootstrap's .deb cache, so a recipe change does not download everything again. */
  debCache: string;
  /** Per-run state: overlays, pidfiles, monitor sockets, serial logs, lab.json. */
  runDir: string;
  sshConfig: string;
  knownHosts: string;
  /** The lab's SSH client key (private half; .pub beside it). */
  clientKey: string;
}

export function labPaths(env: NodeJS.ProcessEnv = process.env): LabPaths {
  const p = ferryPaths(env);
  const files = ferryFiles(p, env);
  const cacheDir = files.labCache;
  const imageDir = path.join(cacheDir, 'image');
  return {
    cacheDir,
    imageDir,
    debCache: path.join(cacheDir, 'debs'),
    runDir: path.join(p.state, 'lab'),
    sshConfig: files.sshConfig,
    knownHosts: files.knownHosts,
    clientKey: path.join(imageDir, 'lab_ed25519'),
  };
}
