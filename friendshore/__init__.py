"""friendshore: PRC exposure, concentration and friend-shoring scenarios for
defense-critical supply chains, on BACI, UN Comtrade and USGS data."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("friendshore")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+unknown"

from .errors import FriendshoreError, InputError
from .store import LoadResult, Store

__all__ = ["FriendshoreError", "InputError", "LoadResult", "Store", "__version__"]
