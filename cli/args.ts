// Option parsers that turn bad values into one-line user errors.
import { InvalidArgumentError } from 'commander';

export function intArg(name: string, min = 0) {
  return (v: string): number => {
    const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^-?\d+$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer ≥ ${min} (decimal or 0x hex)`);
    return n;
  };
}

export function bigArg(name: string) {
  return (v: string): bigint => {
    try {
      const b = BigInt(v);
      if (b < 0n || b >= 2n ** 64n) throw new Error();
      return b;
    } catch {
      throw new InvalidArgumentError(`${name} must be a 64-bit unsigned integer (decimal or 0x hex)`);
    }
  };
}

export function floatArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^[0-9.]+$/.test(v) || !Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}
