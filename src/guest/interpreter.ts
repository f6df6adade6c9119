// Scenario interpreter: executes a scenario's operations on a Machine, in order, recording as it
// goes. Each op is what a guest or the host does; the interpreter routes it through the modelled
// kernel path (real-mode hcall, full exit to the VMM, notifier callbacks, host page table changes).
// `expect` clauses in hcall ops are checked and reported (a scenario doubles as a regression test).

import { H_FUNCTION, H_RC_NAMES, H_TOO_HARD, HCALL_NAMES, KVM_EXIT_PAPR_HCALL, RESUME_HOST } from '../arch/hcall.js';
import { BOOK3S_INTERRUPT_SYSCALL } from '../arch/reg.js';
import { HCALL_REGS_WORDS, isVirtmodePending, kvmppc_hcall, kvmppc_hcall_virtmode, newHcallRegs } from '../kvm/hcall.js';
import { COST, Machine } from '../machine/machine.js';
import { UserError } from '../trace/errors.js';
import { E, K } from '../trace/kinds.js';
import type { Recorder } from '../trace/recorder.js';
import type { Scenario, ScenarioOp } from './scenario.js';

export interface ExpectationFailure {
  op: number;
  message: string;
}

export interface GuestAccessHandler {
  /** Execute a load/store/ifetch op (provided by the hardware MMU model). */
  access(m: Machine, op: Extract<ScenarioOp, { op: 'load' | 'store' | 'ifetch' }>, index: number): void;
  slbmte(m: Machine, vcpu: number, rs: bigint, rb: bigint): void;
  slbia(m: Machine, vcpu: number): void;
}

const HCALL_BY_NAME = new Map([...HCALL_NAMES.entries()].map(([nr, n]) => [n, nr]));
const RET_BY_NAME = new Map([...H_RC_NAMES.entries()].map(([v, n]) => [n, v]));

export class ScenarioRunner {
  readonly machine: Machine;
  readonly failures: ExpectationFailure[] = [];
  private readonly regs = newHcallRegs();
  /** Called after every op (e.g. the invariant checker in tests / --check). */
  afterOp: ((index: number) => void) | undefined;
  guest: GuestAccessHandler | undefined;

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
          m.tick(COST.step);
          m.mm.map(Number(op.hva), { writable: op.writable });
          return;
        case 'host_unmap':
          m.tick(COST.step);
          m.mm.unmap(Number(op.hva), { range: true });
          return;
        case 'host_protect':
          m.tick(COST.step);
          m.mm.protect(Number(op.hva), op.writable);
          return;
        case 'notifier':
          return this.notifier(op);
        case 'hcall':
          return this.hcall(op, index);
        case 'run':
          return m.runSteps(m.vcpu(op.vcpu), op.steps);
        case 'slbmte':
        case 'slbia':
        case 'load':
        case 'store':
        case 'ifetch': {
          if (!this.guest) throw new Error('guest memory accesses need the hardware MMU model, which is not wired in this build');
          if (op.op === 'slbmte') this.guest.slbmte(m, op.vcpu, op.vsid, op.esid);
          else if (op.op === 'slbia') this.guest.slbia(m, op.vcpu);
          else this.guest.access(m, op, index);
          return;
        }
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
    m.tick(COST.step);
    switch (op.callback) {
      case 'invalidate_page':
        return n.invalidate_page(m.mm, hva);
      case 'invalidate_range': {
        const end = op.hva_end === undefined ? hva + m.kvm.pageSize : Number(op.hva_end);
        n.invalidate_range_start(m.mm, hva, end);
        n.invalidate_range_end(m.mm, hva, end);
        return;
      }
      case 'change_pte':
        return n.change_pte(m.mm, hva);
      case 'clear_flush_young':
        n.clear_flush_young(m.mm, hva);
        return;
      case 'test_young':
        n.test_young(m.mm, hva);
        return;
    }
  }

  /**
   * A guest `sc 1` from supervisor state. Real-mode handlers complete in the guest (no switch);
   * anything else is a full exit (trap 0xc00) to the host, and a call the kernel does not handle
   * in virtual mode either reaches the VMM as KVM_EXIT_PAPR_HCALL, which answers H_FUNCTION (this
   * model's VMM implements no hcalls).
   */
  // Mirrors the sc 1 path: hcall_real_table, kvmppc_handle_exit, kvmppc_pseries_do_hcall (Linux 3.4)
  private hcall(op: Extract<ScenarioOp, { op: 'hcall' }>, index: number): void {
    const m = this.machine;
    const v = m.vcpu(op.vcpu);
    const nr = typeof op.nr === 'string' ? HCALL_BY_NAME.get(op.nr)! : Number(op.nr);
    const regs = this.regs;
    regs.fill(0);
    op.args.forEach((a, k) => {
      regs[k * 2] = Number(a >> 32n);
      regs[k * 2 + 1] = Number(a & 0xffffffffn);
    });
    m.enterGuest(v);
    m.tick(COST.hcallReal);
    const enterSeq = m.rec.eventCount;
    const ref = { vcpu_id: v.id, core: m.coreOf(v) };
    let ret = kvmppc_hcall(m.kvm, ref, nr, regs, -1);
    if (ret === H_TOO_HARD && isVirtmodePending(m.kvm)) {
      // PPC970 H_ENTER on a page not pinned yet: full exit, then virtual mode pins and retries.
      m.fullExit(v, BOOK3S_INTERRUPT_SYSCALL, m.rec.enabled ? enterSeq : -1);
      m.tick(COST.hcallVirt);
      ret = kvmppc_hcall_virtmode(m.kvm, ref, nr, regs);
    }
    if (ret === H_TOO_HARD) {
      const exit = v.inGuest ? m.fullExit(v, BOOK3S_INTERRUPT_SYSCALL, m.rec.enabled ? enterSeq : -1) : enterSeq;
      // Not handled in virtual mode by this model either: KVM_EXIT_PAPR_HCALL to the VMM.
      m.tick(COST.userspace);
      m.counters.userspaceExits++;
      m.rec.ev(K.vcpu_state, m.kvm.lpid, v.id, m.coreOf(v), exit);
      m.rec.u(E.vcpu_state.busy_in_host);
      m.rec.u(RESUME_HOST);
      m.rec.u(KVM_EXIT_PAPR_HCALL);
      ret = H_FUNCTION;
      for (let k = 0; k < HCALL_REGS_WORDS; k++) regs[k] = 0;
    }
    if (op.expect) this.check(op, index, nr, ret);
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
