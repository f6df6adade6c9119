// In-process side by side: load two built trees' modules into ONE Node process and alternate the
// same work between them (order flipped every round), so both sides share the machine's state at
// every moment; prints each side's median ms and the speed ratio A/B (> 1: A faster).
//   node bench/ab-inproc.mjs fold TRACE.arrow TREE_A TREE_B      full replay fold of an Arrow trace
//   node bench/ab-inproc.mjs hcalls - TREE_A TREE_B              1M-hcall seeded mix, unrecorded
//   node bench/ab-inproc.mjs hcalls-recorded - TREE_A TREE_B     the same, recorded into a null sink
// Both trees must be built (npm run build). Written for this tree and d9c5af9 (the tree before
// issue 9), whose module paths differ; the fallbacks below are those differences.
import { readFileSync } from 'node:fs';

const [mode, trace, ...trees] = process.argv.slice(2);
const ROUNDS = 9;

async function foldSide(t) {
  const d = `${t}/dist/src`;
  const { decodeArrowBatch } = await import(`${d}/trace/reader.js`);
  const { StateFold } = await import(`${d}/replay/state.js`);
  const { RecordBatchReader } = await import('apache-arrow');
  const rbs = [...RecordBatchReader.from(readFileSync(trace))].filter((rb) => rb.numRows > 0);
  // As the readers do: each record batch decoded into one reused EventBatch; only the fold timed.
  return () => {
    const f = new StateFold();
    let ms = 0;
    let b;
    for (const rb of rbs) {
      b = decodeArrowBatch(trace, rb, Number(rb.getChild('seq').data[0].values[0]), b);
      const t0 = performance.now();
      f.foldBatch(b);
      ms += performance.now() - t0;
    }
    return ms;
  };
}

async function hcallSide(t, recorded) {
  const d = `${t}/dist/src`;
  const hc = await import(`${d}/arch/hcall.js`);
  const { HostMm } = await import(`${d}/host/mm.js`);
  const { PhysMem } = await import(`${d}/host/physmem.js`);
  const { kvmppc_hcall, newHcallRegs } = await import(`${d}/kvm/hcall.js`);
  const { kvm_set_memory_region } = await import(`${d}/kvm/memslot.js`);
  const { Recorder } = await import(`${d}/trace/recorder.js`);
  const { runInfo } = await import(`${d}/trace/run-info.js`);
  const { Prng } = await import(`${d}/base/prng.js`).catch(() => import(`${d}/machine/prng.js`));
  let create;
  try {
    const o = await import(`${d}/kvm/ops.js`);
    create = (a) => { const k = o.kvm_create_vm(a); k.ops.mmuNotifier(k); return k; };
  } catch {
    const { Kvm } = await import(`${d}/kvm/kvm.js`);
    const { KvmMmuNotifier } = await import(`${d}/kvm/mmu_notifier.js`);
    create = (a) => { const k = new Kvm(a); KvmMmuNotifier.register(k); return k; };
  }
  return () => {
    const rec = recorded ? new Recorder([{ open() {}, writeBatch() {}, close() {} }], runInfo('power7', 1, {})) : new Recorder([], undefined);
    const mm = new HostMm({ phys: new PhysMem({ pageShift: 12, npages: 1 << 16, seed: 7 }), rec });
    const kvm = create({ mm, rec, hptOrder: 20 });
    const UA = 0x3fff80000000, PAGES = 4096;
    mm.mmap(UA, PAGES * 4096);
    kvm_set_memory_region(kvm, { slot: 0, guest_phys_addr: 0, memory_size: PAGES * 4096, userspace_addr: UA });
    for (let p = 0; p < PAGES; p++) mm.map(UA + p * 4096);
    // The hcall mix of bench/emulator.ts.
    const rng = new Prng(11), regs = newHcallRegs(), vcpu = { vcpu_id: 0, core: 0 };
    const mask = (kvm.mmu?.geom ?? kvm.geom).hashMask;
    const t0 = performance.now();
    for (let k = 0; k < 1_000_000; k++) {
      const pteg = rng.u32() & mask, op = rng.below(3);
      regs.fill(0);
      if (op === 0) {
        regs[3] = pteg * 8; regs[5] = (((pteg & 0xfffff) << 12) | 1) >>> 0; regs[7] = ((rng.below(PAGES) << 12) | 0x192) >>> 0;
        kvmppc_hcall(kvm, vcpu, hc.H_ENTER, regs);
      } else {
        regs[3] = pteg * 8 + rng.below(8);
        kvmppc_hcall(kvm, vcpu, op === 1 ? hc.H_READ : hc.H_REMOVE, regs);
      }
    }
    return performance.now() - t0;
  };
}

const sides = [];
for (const t of trees) sides.push({ t, run: mode === 'fold' ? await foldSide(t) : await hcallSide(t, mode === 'hcalls-recorded'), ms: [] });
for (let r = 0; r < ROUNDS; r++) for (const s of r % 2 ? [...sides].reverse() : sides) s.ms.push(s.run());
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
for (const s of sides) console.log(`${s.t}: median ${med(s.ms).toFixed(1)} ms  [${s.ms.map((x) => x.toFixed(0)).join(' ')}]`);
console.log(JSON.stringify({ mode, speed_ratio_a_over_b: med(sides[1].ms) / med(sides[0].ms) }));
