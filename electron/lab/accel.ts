import { constants, openSync, closeSync, readFileSync } from 'node:fs';
import type { Accel } from './types.ts';

/** Does this /proc/cpuinfo text show hardware virtualization (Intel VT-x `vmx` or AMD-V `svm`)? */
export function cpuHasVirtFlags(cpuinfo: string): boolean {
  return cpuinfo.split('\n').some((l) => /^flags\s*:/.test(l) && /\s(vmx|svm)(\s|$)/.test(l));
}

/**
 * KVM only when the CPU flags show vmx/svm AND /dev/kvm opens read-write. A /dev/kvm without
 * the flags (a nested, page-table based hypervisor like PVM) boots a stock kernel far slower
 * than TCG, so it is treated as absent.
 */
export function chooseAccel(cpuinfo: string, kvmUsable: boolean, requested: Accel | 'auto' = 'auto'): { accel: Accel; reason: string } {
  if (requested === 'tcg') return { accel: 'tcg', reason: 'TCG requested' };
  const flags = cpuHasVirtFlags(cpuinfo);
  if (requested === 'kvm') {
    if (!kvmUsable) return { accel: 'tcg', reason: 'KVM requested but /dev/kvm is not usable: using TCG' };
    return { accel: 'kvm', reason: flags ? 'KVM requested' : 'KVM requested (the CPU shows no vmx/svm: expect it to be slow)' };
  }
  if (flags && kvmUsable) return { accel: 'kvm', reason: 'CPU has vmx/svm and /dev/kvm works' };
  if (!flags) return { accel: 'tcg', reason: `the CPU shows no vmx/svm flag${kvmUsable ? ' (a /dev/kvm without them is a nested hypervisor that boots far slower than TCG)' : ''}` };
  return { accel: 'tcg', reason: '/dev/kvm is not usable' };
}

export function kvmUsable(dev = '/dev/kvm'): boolean {
  try {
    closeSync(openSync(dev, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

export function detectAccel(requested: Accel | 'auto' = 'auto'): { accel: Accel; reason: string } {
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    /* not Linux */
  }
  return chooseAccel(cpuinfo, kvmUsable(), requested);
}
