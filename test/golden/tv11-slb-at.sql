/* vcpu 0's SLB before the slbmte (seq 3), after it (4) and at the end. */
SELECT e.seq, s.* FROM events e, slb_at(e.seq, 0) s WHERE e.seq IN (3, 4, (SELECT max(seq) FROM events)) ORDER BY e.seq
