SELECT seq, r4 AS flags, r5 AS pte_index, r6 AS v, r7 AS r, ret_name, out_r4 FROM hcalls WHERE name = 'H_ENTER'
