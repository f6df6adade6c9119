/* The VMM page behind gfn 0x1234 before its map (seq 2), right after it (3) and at the end. */
SELECT e.seq, p.* FROM events e, host_page_at(e.seq) p WHERE e.seq IN (2, 3, (SELECT max(seq) FROM events)) ORDER BY e.seq
