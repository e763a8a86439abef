/**
 * The key a client is counted under: an IPv4 address as it is, an IPv6 address by its /64 (what one
 * subscriber or host controls: counting single IPv6 addresses would let one client rotate through 2^64).
 */
import ipaddr from 'ipaddr.js';

export function clientKey(ip: string): string {
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.process(ip);
  } catch {
    return ip;
  }
  if (address.kind() === 'ipv4') return address.toString();
  return `${(address as ipaddr.IPv6).toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}
