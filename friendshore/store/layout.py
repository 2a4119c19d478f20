"""The store's coded layout: the constants its SQL and its writers share."""

# The coded HS key: digits × HS_BASE + the code as a number (no leading-zero loss).
HS_BASE = 1_000_000

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
