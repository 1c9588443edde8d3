import { describe, expect, it } from 'vitest';
import { chooseAccel, cpuHasVirtFlags } from './accel.ts';

const cpu = (flags: string) => `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse ${flags} lm\nbugs\t\t: spectre_v1\n`;

describe('accel choice', () => {
  it('sees vmx / svm only as whole flags on the flags line', () => {
    expect(cpuHasVirtFlags(cpu('vmx'))).toBe(true);
    expect(cpuHasVirtFlags(cpu('svm'))).toBe(true);
    expect(cpuHasVirtFlags(cpu('hypervisor'))).toBe(false);
    expect(cpuHasVirtFlags(cpu('vmxnotreally'))).toBe(false);
    expect(cpuHasVirtFlags('model name\t: svm vmx\n')).toBe(false);
  });

  it('uses KVM only with the flags AND a working /dev/kvm', () => {
    expect(chooseAccel(cpu('vmx'), true).accel).toBe('kvm');
    expect(chooseAccel(cpu('svm'), true).accel).toBe('kvm');
    expect(chooseAccel(cpu('vmx'), false).accel).toBe('tcg');
  });

  it('treats a /dev/kvm without vmx/svm (nested PVM) as a trap: TCG', () => {
    const c = chooseAccel(cpu('hypervisor'), true);
    expect(c.accel).toBe('tcg');
    expect(c.reason).toMatch(/no vmx\/svm/);
  });

  it('honours an explicit choice, but never KVM without /dev/kvm', () => {
    expect(chooseAccel(cpu('vmx'), true, 'tcg').accel).toBe('tcg');
    expect(chooseAccel(cpu(''), true, 'kvm').accel).toBe('kvm');
    expect(chooseAccel(cpu('vmx'), false, 'kvm').accel).toBe('tcg');
  });
});
