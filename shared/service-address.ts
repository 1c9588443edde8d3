/**
 * A service address: an IP address with its prefix that clients reach the process at, moved
 * from the source's interface to the target's inside the freeze window. Pure parsing and
 * validation, shared by the plan schema, plan files, the CLI and the console's plan form.
 */

export interface ParsedServiceAddress {
  family: 4 | 6;
  /** The address alone, without the prefix (what arping and the neighbour advertisement name). */
  ip: string;
  prefix: number;
}

function ipv4(s: string): boolean {
  const parts = s.split('.');
  return parts.length === 4 && parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

function ipv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:]+$/.test(s) || s.includes(':::')) return false;
  const halves = s.split('::');
  if (halves.length > 2) return false;
  const groups = (h: string) => (h === '' ? [] : h.split(':'));
  const all = halves.flatMap(groups);
  if (!all.every((g) => /^[0-9A-Fa-f]{1,4}$/.test(g))) return false;
  return halves.length === 2 ? all.length <= 7 : all.length === 8;
}

/** "10.0.0.100/24" or "fd00::100/64" -> its parts; undefined when it is not one. */
export function parseServiceAddress(text: string): ParsedServiceAddress | undefined {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const ip = m[1]!;
  const prefix = Number(m[2]);
  if (ipv4(ip)) return prefix >= 1 && prefix <= 32 ? { family: 4, ip, prefix } : undefined;
  if (ipv6(ip)) return prefix >= 1 && prefix <= 128 ? { family: 6, ip, prefix } : undefined;
  return undefined;
}

/** Why `text` is not a usable service address, or undefined when it is. */
export function serviceAddressProblem(text: string): string | undefined {
  if (!text.includes('/')) return 'must have its prefix length, like 10.0.0.100/24 or fd00::100/64';
  return parseServiceAddress(text) ? undefined : 'must be an IPv4 or IPv6 address with a prefix length, like 10.0.0.100/24 or fd00::100/64';
}

/** Linux interface names: at most 15 bytes, no slash, colon or white space, not "." or "..". */
export function interfaceNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9_.@-]{1,15}$/.test(name) || name === '.' || name === '..') {
    return 'must be a network interface name (up to 15 letters, digits, dot, dash, underscore), like eth1 or br0';
  }
  return undefined;
}
