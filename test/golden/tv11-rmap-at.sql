/* Every rmap word at the last event. */
SELECT * FROM rmap_at((SELECT max(seq) FROM events))
