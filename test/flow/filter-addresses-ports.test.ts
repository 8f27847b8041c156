/**
 * Address, port and protocol filters (pkg/hubble/filters ip.go, port.go, protocol.go): an address
 * or a CIDR on one side (`--ip`: either); TCP/UDP/SCTP ports (`--port`: either side); protocols
 * by transport, `icmp` for both ICMP versions, and the L7 parsers.
 */
import { describe, expect, it } from 'vitest';
import { ADDR } from './fixtures.js';
import { filterCases, kept } from './filter-helpers.js';

describe('--from-ip / --to-ip / --ip', () => {
  it('exact addresses on one side', () => {
    expect(kept({ toIp: [ADDR.world] })).toEqual([
      'trace to-stack FORWARDED (ICMPv4 EchoRequest to world)',
      'drop FRAG_NOT_FOUND (no connection)',
    ]);
    expect(kept({ fromIp: [ADDR.world] })).toEqual(['trace to-endpoint FORWARDED (ICMPv4 EchoReply)']);
  });

  it('--ip is either side', () => {
    expect(kept({ ip: [ADDR.world] })).toEqual([
      'trace to-stack FORWARDED (ICMPv4 EchoRequest to world)',
      'trace to-endpoint FORWARDED (ICMPv4 EchoReply)',
      'drop FRAG_NOT_FOUND (no connection)',
    ]);
  });

  it('CIDRs, IPv4 and IPv6, and families never mix', () => {
    expect(kept({ fromIp: ['2001:db8::/32'] })).toEqual(['trace to-endpoint FORWARDED (IPv6 TCP from world)']);
    expect(kept({ toIp: ['fd00::/8'] })).toEqual([
      'trace to-endpoint FORWARDED (IPv6 TCP from world)',
      'trace to-endpoint FORWARDED (ICMPv6 EchoRequest)',
    ]);
    const toPods = kept({ toIp: ['10.244.0.0/16'] });
    expect(toPods).not.toContain('trace to-endpoint FORWARDED (IPv6 TCP from world)');
    expect(toPods).toContain('drop POLICY_DENIED');
    expect(kept({ toIp: ['0.0.0.0/0'] }).length + kept({ toIp: ['::/0'] }).length).toBe(Object.keys(filterCases).length);
  });
});

describe('--port / --from-port / --to-port', () => {
  it('either side, TCP, UDP and SCTP', () => {
    const p53 = kept({ port: ['53'] });
    expect(p53).toEqual([
      'trace to-stack FORWARDED (UDP to a CIDR identity)',
      'L7 dns-request FORWARDED',
      'L7 dns-response FORWARDED',
      'L7 dns-response REFUSED',
    ]);
    expect(kept({ toPort: ['53'] })).toEqual(['trace to-stack FORWARDED (UDP to a CIDR identity)', 'L7 dns-request FORWARDED']);
    expect(kept({ fromPort: ['53'] })).toEqual(['L7 dns-response FORWARDED', 'L7 dns-response REFUSED']);
    expect(kept({ port: ['5001'] })).toEqual(['trace to-endpoint FORWARDED (SCTP)']);
  });

  it('ICMP has no ports: an ICMP type never matches', () => {
    expect(kept({ port: ['8'] })).toEqual([]);
    expect(kept({ port: ['0'] })).toEqual([]);
  });
});

describe('--protocol', () => {
  it('transports', () => {
    expect(kept({ protocol: ['udp'] })).toEqual([
      'trace to-stack FORWARDED (UDP to a CIDR identity)',
      'L7 dns-request FORWARDED',
      'L7 dns-response FORWARDED',
      'L7 dns-response REFUSED',
    ]);
    expect(kept({ protocol: ['sctp'] })).toEqual(['trace to-endpoint FORWARDED (SCTP)']);
    expect(kept({ protocol: ['TCP'] })).toContain('L7 http-request FORWARDED');
  });

  it('icmp is both versions; icmpv4 and icmpv6 one each', () => {
    expect(kept({ protocol: ['icmp'] })).toEqual([
      'trace to-stack FORWARDED (ICMPv4 EchoRequest to world)',
      'trace to-endpoint FORWARDED (ICMPv4 EchoReply)',
      'trace to-endpoint FORWARDED (ICMPv6 EchoRequest)',
    ]);
    expect(kept({ protocol: ['icmpv6'] })).toEqual(['trace to-endpoint FORWARDED (ICMPv6 EchoRequest)']);
    expect(kept({ protocol: ['icmpv4'] })).toHaveLength(2);
  });

  it('L7 protocols', () => {
    expect(kept({ protocol: ['http'] })).toEqual(['L7 http-request FORWARDED', 'L7 http-response FORWARDED', 'L7 http-request DROPPED']);
    expect(kept({ protocol: ['dns'] })).toEqual(['L7 dns-request FORWARDED', 'L7 dns-response FORWARDED', 'L7 dns-response REFUSED']);
    expect(kept({ protocol: ['kafka'] })).toEqual(['L7 kafka-request FORWARDED (not evaluated)']);
    expect(kept({ protocol: ['http', 'kafka'] })).toHaveLength(4);
  });
});
