-- name: hs_labels
-- public: no
-- description: The HS text (six digits, leading zeros kept) of coded hs keys, in the order
--   given: the labels of the products a coded query returned (simulate_markets.sql).
-- inputs: (none)
-- params: codes INTEGER[]
-- grain: hs
-- returns: hs INTEGER, hs6 VARCHAR
SELECT c AS hs, hs_text(c) AS hs6
FROM unnest($codes) WITH ORDINALITY AS t(c, n)
ORDER BY n
