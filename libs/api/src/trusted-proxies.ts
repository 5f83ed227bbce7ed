import { BlockList, isIPv4 } from 'node:net';
import { Injectable } from '@nestjs/common';
import { AppConfig } from '@artifactstore/config';

/** The peers of ARTIFACTSTORE_TRUSTED_PROXIES: gateways whose X-Forwarded-* headers are believed. */
@Injectable()
export class TrustedProxies {
  private readonly ranges = new BlockList();
  readonly enabled: boolean;

  constructor(config: AppConfig) {
    for (const cidr of config.trustedProxies) {
      this.ranges.addSubnet(cidr.address, cidr.prefixLength, cidr.family);
    }
    this.enabled = config.trustedProxies.length > 0;
  }

  /** Whether `address` (a socket's peer) is one of the gateways. An IPv4-mapped IPv6 address counts as IPv4. */
  includes(address: string | undefined): boolean {
    if (!this.enabled || address === undefined) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
    if (mapped !== undefined) return this.ranges.check(mapped, 'ipv4') || this.ranges.check(address, 'ipv6');
    return this.ranges.check(address, isIPv4(address) ? 'ipv4' : 'ipv6');
  }
}
