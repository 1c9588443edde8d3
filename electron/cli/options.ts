import { FerryError } from '../../shared/errors.ts';

/** Option parsers shared by the CLI's commands: a typo fails with the option's name and the fix. */

export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s)?$/.exec(text.trim());
  if (!m) throw new FerryError({ code: 'invalid-argument', message: `Not a duration: ${JSON.stringify(text)}`, hint: 'Write it like 300ms or 1.5s.' });
  return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : 1));
}

export function int(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new FerryError({ code: 'invalid-argument', message: `--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(v)}` });
    }
    return n;
  };
}
