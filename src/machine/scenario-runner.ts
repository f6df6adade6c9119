// Scenario interpreter: executes a scenario's operations on a Machine, in order, recording as it
// goes. Each op is what a guest or the host does; the interpreter routes it through the modelled
// kernel path (real-mode hcall, full exit to the VMM, notifier callbacks, host page table changes).
// `expect` clauses in hcall ops are checked and reported (a scenario doubles as a regression test).

import { H_RC_NAMES, HCALL_NAMES } from '../arch/hcall.js';
import { GUEST_ACCESS_EMULATED, GUEST_ACCESS_ERROR, GUEST_ACCESS_GAVE_UP } from './guest-access.js';
import { newHcallRegs } from '../kvm/hcall.js';
import { Machine } from './machine.js';
import { UserError } from '../trace/errors.js';
import { NO_CAUSE, type Recorder } from '../trace/recorder.js';
import type { Scenario, ScenarioOp } from '../guest/scenario.js';

export interface ExpectationFailure {
  op: number;
  message: string;
}

/** lwz r3,0(r4) and stw r3,0(r4): the instruction words KVM reads for an emulated MMIO access. */
export const LWZ_R3_0_R4 = 0x80640000;
export const STW_R3_0_R4 = 0x90640000;

/** Names of guest_access outcomes (scenario `expect` of load/store/ifetch ops). */
export function accessOutcomeName(r: number): string {
  switch (r) {
    case 0:
      return 'ok';
    case GUEST_ACCESS_EMULATED:
      return 'mmio';
    case GUEST_ACCESS_ERROR:
      return 'error';
    case GUEST_ACCESS_GAVE_UP:
      return 'gave_up';
    case 0x300:
      return 'dsi';
    case 0x400:
      return 'isi';
    case 0x380:
      return 'data_segment';
    case 0x480:
      return 'inst_segment';
    default:
      return `0x${r.toString(16)}`;
  }
}

const HCALL_BY_NAME = new Map([...HCALL_NAMES.entries()].map(([nr, n]) => [n, nr]));
const RET_BY_NAME = new Map([...H_RC_NAMES.entries()].map(([v, n]) => [n, v]));

export class ScenarioRunner {
  readonly machine: Machine;
  readonly failures: ExpectationFailure[] = [];
  private readonly regs = newHcallRegs();
  /** Called after every op (e.g. the invariant checker in tests / --check). */
  afterOp: ((index: number) => void) | undefined;

  constructor(
    readonly scenario: Scenario,
    rec: Recorder,
  ) {
    this.machine = new Machine(scenario.machine, rec, scenario.seed);
  }

  run(onProgress?: (done: number, total: number) => void): void {
    const ops = this.scenario.ops;
    for (let i = 0; i < ops.length; i++) {
      this.exec(ops[i], i);
      this.afterOp?.(i);
      onProgress?.(i + 1, ops.length);
    }
  }

  exec(op: ScenarioOp, index: number): void {
    const m = this.machine;
    const at = (e: unknown) => new UserError(`ops[${index}] (${op.op}): ${(e as Error).message}`);
    try {
      switch (op.op) {
        case 'host_map':
          m.tick(m.cost.guestStep);
          m.mm.map(Number(op.hva), { writable: op.writable });
          return;
        case 'host_unmap':
          m.tick(m.cost.guestStep);
          m.mm.unmap(Number(op.hva), { range: true });
          return;
        case 'host_protect':
          m.tick(m.cost.guestStep);
          m.mm.protect(Number(op.hva), op.writable);
          return;
        case 'notifier':
          return this.notifier(op);
        case 'hcall':
          return this.hcall(op, index);
        case 'run':
          return m.runSteps(m.vcpu(op.vcpu), op.steps);
        case 'slbmte':
          m.tick(m.cost.guestStep);
          m.hw[m.vcpu(op.vcpu).id].slbmte(Number(op.vsid >> 32n), Number(op.vsid & 0xffffffffn), Number(op.esid >> 32n), Number(op.esid & 0xffffffffn));
          return;
        case 'slbia':
          m.tick(m.cost.guestStep);
          m.hw[m.vcpu(op.vcpu).id].slbia();
          return;
        case 'load':
        case 'store':
        case 'ifetch':
          return this.access(op, index);
        default: {
          const never: never = op;
          throw new Error(`unknown op ${(never as { op: string }).op}`);
        }
      }
    } catch (e) {
      if (e instanceof UserError) throw e;
      throw at(e);
    }
  }

  private notifier(op: Extract<ScenarioOp, { op: 'notifier' }>): void {
    const m = this.machine;
    const n = m.notifier;
    const hva = Number(op.hva);
    m.tick(m.cost.guestStep);
    switch (op.callback) {
      case 'invalidate_page':
        return n.invalidate_page(m.mm, hva, NO_CAUSE);
      case 'invalidate_range': {
        const end = op.hva_end === undefined ? hva + m.kvm.pageSize : Number(op.hva_end);
        n.invalidate_range_start(m.mm, hva, end, NO_CAUSE);
        n.invalidate_range_end(m.mm, hva, end, NO_CAUSE);
        return;
      }
      case 'change_pte':
        return n.change_pte(m.mm, hva, NO_CAUSE);
      case 'clear_flush_young':
        n.clear_flush_young(m.mm, hva, NO_CAUSE);
        return;
      case 'test_young':
        n.test_young(m.mm, hva, NO_CAUSE);
        return;
    }
  }

  /** A guest `sc 1` through the machine's hcall path; `expect` is checked afterwards. */
  private hcall(op: Extract<ScenarioOp, { op: 'hcall' }>, index: number): void {
    const m = this.machine;
    const nr = typeof op.nr === 'string' ? HCALL_BY_NAME.get(op.nr)! : Number(op.nr);
    const regs = this.regs;
    regs.fill(0);
    op.args.forEach((a, k) => {
      regs[k * 2] = Number(a >> 32n);
      regs[k * 2 + 1] = Number(a & 0xffffffffn);
    });
    const ret = m.hcall(m.vcpu(op.vcpu), nr, regs);
    if (op.expect) this.check(op, index, nr, ret);
  }

  /** Guest load/store/ifetch: the hardware MMU and KVM's fault paths; the outcome is checked. */
  private access(op: Extract<ScenarioOp, { op: 'load' | 'store' | 'ifetch' }>, index: number): void {
    const m = this.machine;
    const rwx = op.op === 'load' ? 0 : op.op === 'store' ? 1 : 2;
    const inst = op.inst !== undefined ? Number(op.inst) : op.op === 'store' ? STW_R3_0_R4 : LWZ_R3_0_R4;
    const h = m.hw[m.vcpu(op.vcpu).id];
    if (op.op === 'store' && op.value !== undefined) h.setGpr(3, Number(op.value >> 32n), Number(op.value & 0xffffffffn));
    const r = m.access(m.vcpu(op.vcpu), Number(op.ea >> 32n), Number(op.ea & 0xffffffffn), rwx, op.msr.ir, op.msr.dr, op.msr.pr, inst);
    const outcome = accessOutcomeName(r);
    if (op.expect !== undefined && op.expect !== outcome)
      this.failures.push({ op: index, message: `${op.op} 0x${op.ea.toString(16)}: expected ${op.expect}, got ${outcome}` });
    if (op.op === 'load' && op.value !== undefined && outcome === 'mmio') {
      const got = (BigInt(h.gprHi(3)) << 32n) | BigInt(h.gprLo(3));
      if (got !== op.value) this.failures.push({ op: index, message: `load 0x${op.ea.toString(16)}: r3 expected 0x${op.value.toString(16)}, got 0x${got.toString(16)}` });
    }
  }

  private check(op: Extract<ScenarioOp, { op: 'hcall' }>, index: number, nr: number, ret: number): void {
    const name = HCALL_NAMES.get(nr) ?? `0x${nr.toString(16)}`;
    const exp = op.expect!;
    if (exp.ret !== undefined) {
      const want = typeof exp.ret === 'number' ? exp.ret : RET_BY_NAME.get(exp.ret);
      if (want === undefined) this.failures.push({ op: index, message: `${name}: unknown return code name '${exp.ret}'` });
      else if (want !== ret)
        this.failures.push({ op: index, message: `${name}: expected ${H_RC_NAMES.get(want) ?? want}, got ${H_RC_NAMES.get(ret) ?? ret}` });
    }
    exp.out?.forEach((want, k) => {
      const got = (BigInt(this.regs[k * 2]) << 32n) | BigInt(this.regs[k * 2 + 1]);
      if (got !== want) this.failures.push({ op: index, message: `${name}: r${4 + k} expected 0x${want.toString(16)}, got 0x${got.toString(16)}` });
    });
  }
}
