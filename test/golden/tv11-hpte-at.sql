/* The life of HPTE slot 0x1a298 (TV11's H_ENTER) at every event from guest entry on: state after each event. */
SELECT e.seq, k.name AS kind, h.v, h.r, h.guest_r, h.valid, h.absent, h.last_seq FROM events e JOIN kinds k ON k.code = e.kind LEFT JOIN hpte_at(e.seq) h ON h.lpid = 1 AND h.hpte_index = 0x1a298 WHERE e.seq >= 8201 ORDER BY e.seq
