"""The country of a client address or network, from a database the deployment provides.

``GEOIP_COUNTRY_DB`` names a file; nothing is ever downloaded, and without it there is
no lookup (``country_lookup()`` is None) and the signals that need one are left out.

- ``*.mmdb``: a MaxMind-format country database (GeoLite2-Country, GeoIP2-Country or
  compatible), read with the ``maxminddb`` package (a dependency of ``geoip2``), which
  a deployment that uses such a file installs.
- ``*.csv``: one network and its ISO 3166 country code per line, e.g.
  ``203.0.113.0/24,KR`` (a ``network,country`` header and ``#`` comments allowed), the
  longest matching network winning. For tests, and for a deployment that keeps a short
  list of its own (a campus, a carrier's ranges).

A lookup answers "" when it does not know; the country of a network is the country of
its first address. A configured file that cannot be read is ``ImproperlyConfigured``:
a signal that silently went missing would look like good news.
"""

import csv
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class CountryLookup(Protocol):
    def country_of(self, address: str) -> str:
        """The ISO country code of an address or a network (``a.b.c.0/24``), or ""."""
        ...


def country_lookup() -> CountryLookup | None:
    """The deployment's lookup, opened once per process; None without ``GEOIP_COUNTRY_DB``."""
    path = getattr(settings, "GEOIP_COUNTRY_DB", "")
    return _open(str(path)) if path else None


@lru_cache(maxsize=2)
def _open(path: str) -> CountryLookup:
    if not Path(path).is_file():
        raise ImproperlyConfigured(f"GEOIP_COUNTRY_DB: no such file: {path}")
    if path.endswith(".csv"):
        return CsvCountryLookup(Path(path))
    if path.endswith(".mmdb"):
        return MaxMindCountryLookup(path)
    raise ImproperlyConfigured("GEOIP_COUNTRY_DB must name a .mmdb or a .csv file.")


def _first_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False).network_address
    except ValueError:
        return None


class CsvCountryLookup:
    """Longest-prefix match over a CSV of networks, one dictionary per prefix length."""

    def __init__(self, path: Path):
        # {version: {prefix length: {network as int: country}}}
        self.tables: dict[int, dict[int, dict[int, str]]] = {4: {}, 6: {}}
        with path.open(newline="", encoding="utf-8") as rows:
            for number, row in enumerate(csv.reader(rows), start=1):
                if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                    continue
                if row[0].strip().lower() == "network":
                    continue
                self._add(row, number, path)
        self.lengths = {version: sorted(table, reverse=True) for version, table in self.tables.items()}

    def _add(self, row: list[str], number: int, path: Path) -> None:
        try:
            network = ipaddress.ip_network(row[0].strip(), strict=False)
            country = row[1].strip().upper()
        except (ValueError, IndexError):
            raise ImproperlyConfigured(f"{path}, line {number}: expected network,country") from None
        if len(country) != 2 or not country.isalpha():
            raise ImproperlyConfigured(f"{path}, line {number}: {country!r} is not a country code")
        table = self.tables[network.version].setdefault(network.prefixlen, {})
        table[int(network.network_address)] = country

    def country_of(self, address: str) -> str:
        first = _first_address(address)
        if first is None:
            return ""
        bits = first.max_prefixlen
        for length in self.lengths[first.version]:
            key = (int(first) >> (bits - length)) << (bits - length)
            country = self.tables[first.version][length].get(key)
            if country:
                return country
        return ""


class MaxMindCountryLookup:
    """A MaxMind-format database, read with ``maxminddb`` (installed with ``geoip2``)."""

    def __init__(self, path: str):
        try:
            import maxminddb  # type: ignore[import-not-found]
        except ImportError:
            raise ImproperlyConfigured(
                "GEOIP_COUNTRY_DB names a MaxMind database: install geoip2 (or maxminddb) to read it."
            ) from None
        self._reader = maxminddb.open_database(path)

    def country_of(self, address: str) -> str:
        first = _first_address(address)
        if first is None:
            return ""
        record = self._reader.get(str(first)) or {}
        country = record.get("country") or record.get("registered_country") or {}
        return country.get("iso_code") or ""
