"""The client's address, as the rate limits and fraud signals must see it.

The socket peer is the client unless that peer is one of our own reverse proxies
(``TRUSTED_PROXIES``, addresses or CIDR networks). Only then is ``X-Forwarded-For``
read, right to left, skipping our proxies: the first hop we did not add is the client.
A header sent by anyone else is ignored, so a client cannot choose its own address.
(django-ipware matches trusted proxies against the header's contents rather than the
socket peer, which is why this walk is written out here.)
"""

import ipaddress
from functools import lru_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def trusted_networks(proxies: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(proxy.strip(), strict=False) for proxy in proxies)


def parse_address(raw: str | None) -> IPAddress | None:
    if not raw:
        return None
    text = raw.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def client_ip_from(meta: dict, proxies: tuple[str, ...]) -> str | None:
    peer = parse_address(meta.get("REMOTE_ADDR"))
    if peer is None:
        return None
    networks = trusted_networks(proxies)
    if not _is_trusted(peer, networks):
        return str(peer)
    hops = [hop for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = peer
    for raw_hop in reversed(hops):
        hop = parse_address(raw_hop)
        if hop is None:
            break  # garbage in the chain: stop at the last address we could trust
        client = hop
        if not _is_trusted(hop, networks):
            break
    return str(client)


@lru_cache(maxsize=4096)
def network_of(ip: str) -> str:
    """The network an address belongs to for per-network limits: /24 or /64."""
    address = ipaddress.ip_address(ip)
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks if network.version == address.version)
