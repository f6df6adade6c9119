-- hvtrace trace format v1: SQLite DDL and views (generated from src/trace/kinds.ts)

CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  time INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  lpid INTEGER NOT NULL,
  vcpu INTEGER NOT NULL,
  core INTEGER NOT NULL,
  cause INTEGER,
  w0 INTEGER,
  w1 INTEGER,
  w2 INTEGER,
  w3 INTEGER,
  w4 INTEGER,
  w5 INTEGER,
  w6 INTEGER,
  w7 INTEGER,
  w8 INTEGER,
  w9 INTEGER,
  w10 INTEGER,
  w11 INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS kinds (code INTEGER PRIMARY KEY, name TEXT NOT NULL, family TEXT NOT NULL, doc TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS kind_fields (kind TEXT NOT NULL, position INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, position)) STRICT;
CREATE TABLE IF NOT EXISTS enums (enum TEXT NOT NULL, value INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (enum, value)) STRICT;

CREATE VIEW IF NOT EXISTS ev_run_start AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS seed FROM events WHERE kind = 1;
CREATE VIEW IF NOT EXISTS ev_run_end AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS events FROM events WHERE kind = 2;
CREATE VIEW IF NOT EXISTS ev_hcall_enter AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS nr, IFNULL(w1, 0) AS r4, IFNULL(w2, 0) AS r5, IFNULL(w3, 0) AS r6, IFNULL(w4, 0) AS r7, IFNULL(w5, 0) AS r8, IFNULL(w6, 0) AS r9, IFNULL(w7, 0) AS r10, IFNULL(w8, 0) AS r11 FROM events WHERE kind = 10;
CREATE VIEW IF NOT EXISTS ev_hcall_exit AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS nr, IFNULL(w1, 0) AS ret, CASE IFNULL(w2, 0) WHEN 0 THEN 'real' WHEN 1 THEN 'virtual' WHEN 2 THEN 'user' ELSE '?' || IFNULL(w2, 0) END AS path, IFNULL(w3, 0) AS out_r4, IFNULL(w4, 0) AS out_r5, IFNULL(w5, 0) AS out_r6, IFNULL(w6, 0) AS out_r7, IFNULL(w7, 0) AS out_r8, IFNULL(w8, 0) AS out_r9, IFNULL(w9, 0) AS out_r10, IFNULL(w10, 0) AS out_r11 FROM events WHERE kind = 11;
CREATE VIEW IF NOT EXISTS ev_hpte_write AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS hpte_index, IFNULL(w1, 0) AS old_v, IFNULL(w2, 0) AS old_r, IFNULL(w3, 0) AS new_v, IFNULL(w4, 0) AS new_r, IFNULL(w5, 0) AS guest_r FROM events WHERE kind = 20;
CREATE VIEW IF NOT EXISTS ev_rmap_change AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'link' WHEN 1 THEN 'unlink' WHEN 2 THEN 'update' ELSE '?' || IFNULL(w0, 0) END AS op, IFNULL(w1, 0) AS gfn, IFNULL(w2, 0) AS hpte_index, IFNULL(w3, 0) AS rmap, IFNULL(w4, 0) AS forw, IFNULL(w5, 0) AS back FROM events WHERE kind = 21;
CREATE VIEW IF NOT EXISTS ev_tlbie AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS rb, CASE IFNULL(w1, 0) WHEN 0 THEN 'global' WHEN 1 THEN 'local' WHEN 2 THEN 'lpid_sets' WHEN 3 THEN 'all_sets' ELSE '?' || IFNULL(w1, 0) END AS scope, IFNULL(w2, 0) AS sets FROM events WHERE kind = 22;
CREATE VIEW IF NOT EXISTS ev_fault_triage AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'hdsi' WHEN 1 THEN 'hisi' WHEN 2 THEN 'dsi' WHEN 3 THEN 'isi' ELSE '?' || IFNULL(w0, 0) END AS interrupt, IFNULL(w1, 0) AS ea, IFNULL(w2, 0) AS status, IFNULL(w3, 0) AS slb_v, IFNULL(w4, 0) AS hpte_index, CASE IFNULL(w5, 0) WHEN 0 THEN 'reflect' WHEN 1 THEN 'retry' WHEN 2 THEN 'virtual' WHEN 3 THEN 'mmio' WHEN 4 THEN 'guest' ELSE '?' || IFNULL(w5, 0) END AS decision, IFNULL(w6, 0) AS out_status, IFNULL(w7, 0) AS gfn, IFNULL(w8, 0) AS access FROM events WHERE kind = 30;
CREATE VIEW IF NOT EXISTS ev_page_fault_enter AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS hpte_v, IFNULL(w1, 0) AS hpte_r, IFNULL(w2, 0) AS gpte_r, IFNULL(w3, 0) AS ea, IFNULL(w4, 0) AS base_gfn, IFNULL(w5, 0) AS slot_flags, IFNULL(w6, 0) AS dsisr, IFNULL(w7, 0) AS hpte_index, IFNULL(w8, 0) AS gfn FROM events WHERE kind = 31;
CREATE VIEW IF NOT EXISTS ev_page_fault_exit AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS hpte_v, IFNULL(w1, 0) AS hpte_r, IFNULL(w2, 0) AS ret, CASE IFNULL(w3, 0) WHEN 0 THEN 'installed' WHEN 1 THEN 'upgraded' WHEN 2 THEN 'changed' WHEN 3 THEN 'notifier_retry' WHEN 4 THEN 'stale_addr' WHEN 5 THEN 'mmio' WHEN 6 THEN 'efault' ELSE '?' || IFNULL(w3, 0) END AS outcome, IFNULL(w4, 0) AS hpte_index, IFNULL(w5, 0) AS gfn FROM events WHERE kind = 32;
CREATE VIEW IF NOT EXISTS ev_notifier AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'invalidate_page' WHEN 1 THEN 'range_start' WHEN 2 THEN 'range_end' WHEN 3 THEN 'change_pte' WHEN 4 THEN 'clear_flush_young' WHEN 5 THEN 'test_young' WHEN 6 THEN 'release' ELSE '?' || IFNULL(w0, 0) END AS callback, IFNULL(w1, 0) AS hva_start, IFNULL(w2, 0) AS hva_end, IFNULL(w3, 0) AS gfn, CASE IFNULL(w4, 0) WHEN 0 THEN 'none' WHEN 1 THEN 'invalidated' WHEN 2 THEN 'aged' WHEN 3 THEN 'young' WHEN 4 THEN 'not_young' WHEN 5 THEN 'noop_pinned' ELSE '?' || IFNULL(w4, 0) END AS effect, IFNULL(w5, 0) AS hptes, IFNULL(w6, 0) AS mmu_seq, IFNULL(w7, 0) AS mmu_count FROM events WHERE kind = 40;
CREATE VIEW IF NOT EXISTS ev_host_page AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'map' WHEN 1 THEN 'unmap' WHEN 2 THEN 'swap_out' WHEN 3 THEN 'swap_in' WHEN 4 THEN 'pin' WHEN 5 THEN 'unpin' WHEN 6 THEN 'protect' WHEN 7 THEN 'age' ELSE '?' || IFNULL(w0, 0) END AS op, IFNULL(w1, 0) AS hva, IFNULL(w2, 0) AS pfn, IFNULL(w3, 0) AS writable, IFNULL(w4, 0) AS page_shift, IFNULL(w5, 0) AS owner FROM events WHERE kind = 41;
CREATE VIEW IF NOT EXISTS ev_partition_switch AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS thread, IFNULL(w1, 0) AS from_lpid, IFNULL(w2, 0) AS to_lpid, CASE IFNULL(w3, 0) WHEN 0 THEN 'entry' WHEN 1 THEN 'exit' ELSE '?' || IFNULL(w3, 0) END AS direction, IFNULL(w4, 0) AS trap, IFNULL(w5, 0) AS sdr1, IFNULL(w6, 0) AS lpcr FROM events WHERE kind = 50;
CREATE VIEW IF NOT EXISTS ev_guest_enter AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS pc, IFNULL(w1, 0) AS msr FROM events WHERE kind = 51;
CREATE VIEW IF NOT EXISTS ev_guest_exit AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS trap, IFNULL(w1, 0) AS pc, IFNULL(w2, 0) AS msr FROM events WHERE kind = 52;
CREATE VIEW IF NOT EXISTS ev_mmio_exit AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS gpa, IFNULL(w1, 0) AS len, IFNULL(w2, 0) AS is_write, IFNULL(w3, 0) AS data, IFNULL(w4, 0) AS inst FROM events WHERE kind = 53;
CREATE VIEW IF NOT EXISTS ev_memslot AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'create' WHEN 1 THEN 'delete' ELSE '?' || IFNULL(w0, 0) END AS op, IFNULL(w1, 0) AS slot, IFNULL(w2, 0) AS base_gfn, IFNULL(w3, 0) AS npages, IFNULL(w4, 0) AS userspace_addr, IFNULL(w5, 0) AS flags FROM events WHERE kind = 60;
CREATE VIEW IF NOT EXISTS ev_vm_create AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS hpt_order, IFNULL(w1, 0) AS sdr1, IFNULL(w2, 0) AS lpcr, IFNULL(w3, 0) AS vm_id FROM events WHERE kind = 61;
CREATE VIEW IF NOT EXISTS ev_vcore_state AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS vcore, CASE IFNULL(w1, 0) WHEN 0 THEN 'inactive' WHEN 1 THEN 'running' WHEN 2 THEN 'exiting' WHEN 3 THEN 'sleeping' ELSE '?' || IFNULL(w1, 0) END AS state, IFNULL(w2, 0) AS n_runnable FROM events WHERE kind = 62;
CREATE VIEW IF NOT EXISTS ev_vcpu_state AS SELECT seq, time, lpid, vcpu, core, cause, CASE IFNULL(w0, 0) WHEN 0 THEN 'stopped' WHEN 1 THEN 'busy_in_host' WHEN 2 THEN 'runnable' ELSE '?' || IFNULL(w0, 0) END AS state, IFNULL(w1, 0) AS ret, IFNULL(w2, 0) AS exit_reason FROM events WHERE kind = 63;
CREATE VIEW IF NOT EXISTS ev_slb_update AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS slot, IFNULL(w1, 0) AS esid, IFNULL(w2, 0) AS vsid FROM events WHERE kind = 64;
CREATE VIEW IF NOT EXISTS ev_checkpoint AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS digest, IFNULL(w1, 0) AS ordinal, IFNULL(w2, 0) AS hpt_digest, IFNULL(w3, 0) AS guest_digest, IFNULL(w4, 0) AS rmap_digest FROM events WHERE kind = 70;
CREATE VIEW IF NOT EXISTS ev_guest_op AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS op_id, CASE IFNULL(w1, 0) WHEN 0 THEN 'load' WHEN 1 THEN 'store' WHEN 2 THEN 'ifetch' WHEN 3 THEN 'spawn' WHEN 4 THEN 'exit' WHEN 5 THEN 'munmap' WHEN 6 THEN 'mprotect_ro' WHEN 7 THEN 'mprotect_rw' WHEN 8 THEN 'mmio_load' WHEN 9 THEN 'mmio_store' WHEN 10 THEN 'tick' ELSE '?' || IFNULL(w1, 0) END AS op, IFNULL(w2, 0) AS pid, IFNULL(w3, 0) AS ea, IFNULL(w4, 0) AS ea_end FROM events WHERE kind = 90;
CREATE VIEW IF NOT EXISTS ev_anomaly AS SELECT seq, time, lpid, vcpu, core, cause, IFNULL(w0, 0) AS code, IFNULL(w1, 0) AS severity, IFNULL(w2, 0) AS a, IFNULL(w3, 0) AS b FROM events WHERE kind = 80;
CREATE VIEW IF NOT EXISTS hcalls AS
SELECT e.seq AS seq, e.time AS time, e.lpid AS lpid, e.vcpu AS vcpu, e.nr AS nr, CASE e.nr WHEN 4 THEN 'H_REMOVE' WHEN 8 THEN 'H_ENTER' WHEN 12 THEN 'H_READ' WHEN 16 THEN 'H_CLEAR_MOD' WHEN 20 THEN 'H_CLEAR_REF' WHEN 24 THEN 'H_PROTECT' WHEN 28 THEN 'H_GET_TCE' WHEN 32 THEN 'H_PUT_TCE' WHEN 36 THEN 'H_SET_SPRG0' WHEN 40 THEN 'H_SET_DABR' WHEN 44 THEN 'H_PAGE_INIT' WHEN 100 THEN 'H_EOI' WHEN 104 THEN 'H_CPPR' WHEN 108 THEN 'H_IPI' WHEN 112 THEN 'H_IPOLL' WHEN 116 THEN 'H_XIRR' WHEN 220 THEN 'H_REGISTER_VPA' WHEN 224 THEN 'H_CEDE' WHEN 228 THEN 'H_CONFER' WHEN 232 THEN 'H_PROD' WHEN 292 THEN 'H_BULK_REMOVE' WHEN 308 THEN 'H_SET_XDABR' WHEN 312 THEN 'H_STUFF_TCE' WHEN 316 THEN 'H_PUT_TCE_INDIRECT' WHEN 768 THEN 'H_RANDOM' WHEN 796 THEN 'H_SET_MODE' WHEN 876 THEN 'H_RESIZE_HPT_PREPARE' WHEN 880 THEN 'H_RESIZE_HPT_COMMIT' WHEN 61440 THEN 'H_RTAS' WHEN 63488 THEN 'H_SET_PARTITION_TABLE' WHEN 63492 THEN 'H_ENTER_NESTED' WHEN 63496 THEN 'H_TLB_INVALIDATE' WHEN 63500 THEN 'H_COPY_TOFROM_GUEST' ELSE printf('0x%x', e.nr) END AS name,
  x.ret AS ret, CASE x.ret WHEN 0 THEN 'H_SUCCESS' WHEN 1 THEN 'H_BUSY' WHEN 2 THEN 'H_CLOSED' WHEN 3 THEN 'H_NOT_AVAILABLE' WHEN 4 THEN 'H_CONSTRAINED' WHEN 5 THEN 'H_PARTIAL' WHEN 14 THEN 'H_IN_PROGRESS' WHEN 15 THEN 'H_PAGE_REGISTERED' WHEN 16 THEN 'H_PARTIAL_STORE' WHEN 17 THEN 'H_PENDING' WHEN 18 THEN 'H_CONTINUE' WHEN 9900 THEN 'H_LONG_BUSY_ORDER_1_MSEC' WHEN 9901 THEN 'H_LONG_BUSY_ORDER_10_MSEC' WHEN 9902 THEN 'H_LONG_BUSY_ORDER_100_MSEC' WHEN 9903 THEN 'H_LONG_BUSY_ORDER_1_SEC' WHEN 9904 THEN 'H_LONG_BUSY_ORDER_10_SEC' WHEN 9905 THEN 'H_LONG_BUSY_ORDER_100_SEC' WHEN 9999 THEN 'H_TOO_HARD' WHEN -1 THEN 'H_HARDWARE' WHEN -2 THEN 'H_FUNCTION' WHEN -3 THEN 'H_PRIVILEGE' WHEN -4 THEN 'H_PARAMETER' WHEN -5 THEN 'H_BAD_MODE' WHEN -6 THEN 'H_PTEG_FULL' WHEN -7 THEN 'H_NOT_FOUND' WHEN -8 THEN 'H_RESERVED_DABR' WHEN -9 THEN 'H_NO_MEM' WHEN -10 THEN 'H_AUTHORITY' WHEN -11 THEN 'H_PERMISSION' WHEN -12 THEN 'H_DROPPED' WHEN -16 THEN 'H_RESOURCE' WHEN -55 THEN 'H_P2' WHEN -56 THEN 'H_P3' WHEN -57 THEN 'H_P4' WHEN -58 THEN 'H_P5' WHEN -59 THEN 'H_P6' WHEN -60 THEN 'H_P7' WHEN -61 THEN 'H_P8' WHEN -62 THEN 'H_P9' WHEN -64 THEN 'H_TOO_BIG' WHEN -67 THEN 'H_UNSUPPORTED' WHEN -68 THEN 'H_OVERLAP' WHEN -69 THEN 'H_INTERRUPT' WHEN -70 THEN 'H_BAD_DATA' ELSE CAST(x.ret AS TEXT) END AS ret_name, x.path AS path,
  e.r4 AS r4, e.r5 AS r5, e.r6 AS r6, e.r7 AS r7,
  x.out_r4 AS out_r4, x.out_r5 AS out_r5, x.seq AS exit_seq, x.time - e.time AS duration
FROM ev_hcall_enter e LEFT JOIN ev_hcall_exit x ON x.cause = e.seq;
CREATE VIEW IF NOT EXISTS hpte_updates AS
SELECT seq, time, lpid, hpte_index, old_v, old_r, new_v, new_r, guest_r, cause FROM ev_hpte_write;
CREATE VIEW IF NOT EXISTS faults AS
SELECT seq, time, lpid, vcpu, interrupt AS kind, ea, gfn, decision, status, out_status, hpte_index, access, cause FROM ev_fault_triage;
CREATE VIEW IF NOT EXISTS page_faults AS
SELECT e.seq AS seq, e.time AS time, e.lpid AS lpid, e.vcpu AS vcpu, e.ea AS ea, e.gfn AS gfn, e.hpte_index AS hpte_index,
  e.hpte_v AS hpte_v, e.hpte_r AS hpte_r, e.gpte_r AS gpte_r, e.dsisr AS dsisr,
  x.outcome AS outcome, x.ret AS ret, x.hpte_v AS new_v, x.seq AS exit_seq, x.time - e.time AS duration, e.cause AS cause
FROM ev_page_fault_enter e LEFT JOIN ev_page_fault_exit x ON x.cause = e.seq;
CREATE VIEW IF NOT EXISTS notifier_events AS
SELECT seq, time, lpid, callback AS kind, hva_start, hva_end, gfn, effect, hptes, mmu_seq, mmu_count, cause FROM ev_notifier;
CREATE VIEW IF NOT EXISTS partition_switches AS
SELECT seq, time, core, thread, from_lpid, to_lpid, direction, trap, lpid, vcpu, cause FROM ev_partition_switch;
CREATE VIEW IF NOT EXISTS tlb_invalidations AS
SELECT seq, time, lpid, rb, scope, sets, core, cause FROM ev_tlbie;
CREATE VIEW IF NOT EXISTS rmap_changes AS
SELECT seq, time, lpid, op, gfn, hpte_index, rmap, forw, back, cause FROM ev_rmap_change;
CREATE VIEW IF NOT EXISTS host_pages AS
SELECT seq, time, op, hva, pfn, writable, page_shift, owner, lpid, cause FROM ev_host_page;
