"""The store's coded layout: the constants its SQL and its writers share."""

# The coded HS key: digits × HS_BASE + the code as a number (no leading-zero loss).
HS_BASE = 1_000_000
# year × KEY_BASE + load_id identifies one load's rows of one year (a selection key).
KEY_BASE = 1_000_000

# trade_flows' columns, in order (the view's and every writer's).
FLOW_COLUMNS = (
    "year",
    "exporter",
    "importer",
    "hs6",
    "hs_revision",
    "value_usd",
    "quantity_t",
    "source",
    "basis",
    "load_id",
)

# The one row filter every flow query reads (DuckDB table macro, created on each
# connection): the selected loads of the years asked (all of them when
# ``all_loads``), positive values, six-digit codes (``all_hs``) or the listed ones.
# friendshore.selection builds the arguments; friendshore.export.spark inlines it.
TABLE_MACROS = {
    "selected_flows": (
        ("all_loads", "load_keys", "year_min", "year_max", "all_hs", "hs_list"),
        f"""SELECT * FROM flows
    WHERE year BETWEEN year_min AND year_max
      AND (all_loads OR list_contains(load_keys, year::BIGINT * {KEY_BASE} + load_id))
      AND value_usd > 0
      AND CASE WHEN all_hs THEN hs >= {6 * HS_BASE}
               ELSE hs IN (SELECT hs_code(unnest(hs_list))) END""",
    ),
}
