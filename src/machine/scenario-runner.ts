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
import { instGpr, type Scenario, type ScenarioOp } from '../guest/scenario.js';

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
          return this.hostMap(op);
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
        case 'mtspr': {
          // mtspr SPRN_AMR in guest supervisor state: the thread's AMR, no exit, nothing recorded
          // (the trace's run config holds the scenario, so re-execution sees the same value).
          const h = m.hw[m.vcpu(op.vcpu).id];
          m.tick(m.cost.guestStep);
          h.amrHi = Number(op.value >> 32n) >>> 0;
          h.amrLo = Number(op.value & 0xffffffffn) >>> 0;
          return;
        }
        case 'expect':
          return this.expectState(op, index);
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

  /**
   * The VMM touches hva: a page fault that maps it. With page_shift, the mapping has that page size:
   * inside a VMA it must be the VMA's (one VMA has one backing page size); outside every VMA the
   * VMM first mmaps a VMA of one such page at hva (anonymous, or hugetlbfs for 16/24).
   */
  private hostMap(op: Extract<ScenarioOp, { op: 'host_map' }>): void {
    const mm = this.machine.mm;
    const hva = Number(op.hva);
    if (op.page_shift !== undefined) {
      const vma = mm.find_vma(hva);
      if (vma === null) mm.mmap(hva, 2 ** op.page_shift, { pageShift: op.page_shift });
      else if (vma.pageShift !== op.page_shift) {
        throw new Error(`page_shift ${op.page_shift} does not match the ${2 ** (vma.pageShift - 10)} KiB pages of the VMA at 0x${vma.start.toString(16)} that holds hva 0x${hva.toString(16)}`);
      }
    }
    mm.map(hva, { writable: op.writable });
  }

  /**
   * An `expect` op: compare machine state with the scenario's values (failures, like other clauses).
   * Errors thrown here and in hostMap become UserErrors prefixed with the op (exec).
   */
  private expectState(op: Extract<ScenarioOp, { op: 'expect' }>, index: number): void {
    const m = this.machine;
    const kvm = m.kvm;
    const h = m.hw[m.vcpu(op.vcpu).id];
    const fail = (what: string, want: bigint, got: bigint) => {
      if (want !== got) this.failures.push({ op: index, message: `expect ${what}: expected 0x${want.toString(16)}, got 0x${got.toString(16)}` });
    };
    const pair = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    if (op.lpid !== undefined) fail('lpid', BigInt(op.lpid), BigInt(kvm.lpid));
    if (op.lpcr !== undefined || op.hid4 !== undefined) {
      const name = op.lpcr !== undefined ? 'lpcr' : 'hid4';
      if ((name === 'hid4') !== (kvm.cpu === 'ppc970')) throw new Error(`${name} is not a register of ${kvm.cpu} (use ${name === 'hid4' ? 'lpcr' : 'hid4'})`);
      fail(name, (op.lpcr ?? op.hid4)!, pair(kvm.lpcrHi, kvm.lpcrLo));
    }
    if (op.amr !== undefined) fail('amr', op.amr, pair(h.amrHi, h.amrLo));
    if (op.gpr !== undefined) fail(`r${op.gpr.reg}`, op.gpr.value, pair(h.gprHi(op.gpr.reg), h.gprLo(op.gpr.reg)));
    if (op.hpte !== undefined) {
      const i = op.hpte.index;
      if (i >= kvm.mmu.npte) throw new Error(`hpte index 0x${i.toString(16)} is beyond the HPT (${kvm.mmu.npte} entries)`);
      const hpt = kvm.mmu.hpt;
      if (op.hpte.v !== undefined) fail(`hpte 0x${i.toString(16)} v`, op.hpte.v, pair(hpt[i * 4], hpt[i * 4 + 1]));
      if (op.hpte.r !== undefined) {
        const mask = op.hpte.r_mask ?? 0xffffffffffffffffn;
        fail(`hpte 0x${i.toString(16)} r${op.hpte.r_mask !== undefined ? ` & 0x${mask.toString(16)}` : ''}`, op.hpte.r & mask, pair(hpt[i * 4 + 2], hpt[i * 4 + 3]) & mask);
      }
      if (op.hpte.guest_r !== undefined) fail(`hpte 0x${i.toString(16)} guest_r`, op.hpte.guest_r, pair(kvm.mmu.revGuestR[i * 2], kvm.mmu.revGuestR[i * 2 + 1]));
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
    // The instruction's RS (store) / RT (load) field names the register `value` is about.
    const reg = instGpr(inst);
    if (op.op === 'store' && op.value !== undefined) h.setGpr(reg, Number(op.value >> 32n), Number(op.value & 0xffffffffn));
    const r = m.access(m.vcpu(op.vcpu), Number(op.ea >> 32n), Number(op.ea & 0xffffffffn), rwx, op.msr.ir, op.msr.dr, op.msr.pr, inst);
    const outcome = accessOutcomeName(r);
    if (op.expect !== undefined && op.expect !== outcome)
      this.failures.push({ op: index, message: `${op.op} 0x${op.ea.toString(16)}: expected ${op.expect}, got ${outcome}` });
    if (op.op === 'load' && op.value !== undefined && outcome === 'mmio') {
      const got = (BigInt(h.gprHi(reg)) << 32n) | BigInt(h.gprLo(reg));
      if (got !== op.value) this.failures.push({ op: index, message: `load 0x${op.ea.toString(16)}: r${reg} expected 0x${op.value.toString(16)}, got 0x${got.toString(16)}` });
    }
    if (op.dsisr !== undefined) {
      const got = outcome === 'dsi' ? `0x${(h.dsisr >>> 0).toString(16)}` : `no DSI (${outcome})`;
      if (outcome !== 'dsi' || BigInt(h.dsisr >>> 0) !== op.dsisr) this.failures.push({ op: index, message: `${op.op} 0x${op.ea.toString(16)}: DSISR expected 0x${op.dsisr.toString(16)}, got ${got}` });
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
