// Name tables used by views and printers: adapters of the tables defined once in src/arch/hcall.ts.

import { HCALL_NAMES as HCALLS, H_RC_NAMES } from '../arch/hcall.js';

export const HCALL_NAMES: readonly (readonly [number, string])[] = [...HCALLS.entries()];
export const HRET_NAMES: readonly (readonly [number, string])[] = [...H_RC_NAMES.entries()];
export const hcallName = (nr: number) => HCALLS.get(nr) ?? `0x${nr.toString(16)}`;
export const hretName = (ret: number) => H_RC_NAMES.get(ret) ?? String(ret);
