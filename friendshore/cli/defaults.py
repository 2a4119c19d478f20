"""Option defaults the CLI shows in --help, without importing the engines.

The engines own these values; ``tests/test_startup.py`` checks that each one here
equals the engine's, so `friendshore --help` stays fast without drifting.
"""

CONCERN = "prc"  # friendshore.engines.exposure.DEFAULT_CONCERN
GEODEP_IMPORT_HHI = 0.4  # friendshore.engines.flags.GEODEP_IMPORT_HHI
GEODEP_WORLD_HHI = 0.4  # friendshore.engines.flags.GEODEP_WORLD_HHI
GEODEP_RATIO = 1.0  # friendshore.engines.flags.GEODEP_RATIO
GEODEP_WINDOW = 3  # friendshore.engines.flags.GEODEP_WINDOW
GEODEP_MIN_YEARS = 2  # friendshore.engines.flags.GEODEP_MIN_YEARS
CRMA_SINGLE_SHARE = 0.65  # friendshore.engines.flags.CRMA_SINGLE_SHARE
MIN_COVERAGE = 0.5  # friendshore.engines.flags.MIN_COVERAGE
CRMA_CONSUMPTION_SHARE = 0.65  # friendshore.engines.crma.CRMA_CONSUMPTION_SHARE
HS_REVISIONS = ("HS1992", "HS1996", "HS2002", "HS2007", "HS2012", "HS2017", "HS2022")
# ^ friendshore.reference.industries.REVISIONS
CAPACITY_EXPANSION = (
    0.25  # friendshore.engines.scenarios.coalitions.DEFAULT_CAPACITY_EXPANSION
)


class _Elasticities:
    """friendshore.engines.scenarios.coalitions.Settings().elasticities, as plain numbers."""

    substitution = 3.1
    demand = 0.6
    supply = 1.5


ELASTICITIES = _Elasticities
