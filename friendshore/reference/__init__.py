"""Reference data bundled with friendshore: countries, the registry of groups
and tiers, the industry map. Plain files, no store."""
