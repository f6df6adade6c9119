SELECT seq, kind, ea, gfn, decision, status, hpte_index FROM faults ORDER BY seq
