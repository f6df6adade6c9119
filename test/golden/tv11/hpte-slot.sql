-- the life of HPTE slot 0x1a298 (107160): the H_ENTER write, then the hardware's C-bit store
SELECT seq, hpte_index, old_v, old_r, new_v, new_r, guest_r, cause FROM hpte_updates WHERE hpte_index = 0x1a298 ORDER BY seq
