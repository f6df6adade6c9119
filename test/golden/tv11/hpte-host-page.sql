SELECT u.seq, p.hva, p.pfn, u.new_r, u.new_r >> 12 AS rpn FROM hpte_updates u JOIN host_pages p ON p.pfn = u.new_r >> 12 WHERE u.hpte_index = 107160 ORDER BY u.seq
