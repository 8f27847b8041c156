/**
 * The FQDN cache (pkg/fqdn/cache.go DNSCache and the learning rule of the DNS message handler):
 * TTL against --fqdn-min-ttl, expiry on the capture clock, latest expiry wins, CNAME chains,
 * answers to refused queries never learned, per-name and total bounds with deterministic eviction.
 */
import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { parseDnsMessage, type DnsMessage } from '../../src/proxy/dns.js';
import { FqdnCache, learnFromResponse, type FqdnCacheChange } from '../../src/proxy/fqdn-cache.js';

function response(qname: string, answers: dnsPacket.Answer[], rcode = 0): DnsMessage {
  const bytes = dnsPacket.encode({ id: 1, type: 'response', flags: rcode, questions: [{ name: qname, type: 'A', class: 'IN' }], answers });
  const r = parseDnsMessage(bytes);
  if (!r.ok) throw new Error(r.error);
  return r.message;
}

const A = (name: string, data: string, ttl: number): dnsPacket.Answer => ({ type: 'A', name, data, ttl, class: 'IN' });
const CNAME = (name: string, data: string, ttl: number): dnsPacket.Answer => ({ type: 'CNAME', name, data, ttl, class: 'IN' });

const brief = (cs: FqdnCacheChange[]) => cs.map((c) => `${c.kind} ${c.reason} ${c.name} ${c.ip}`);

describe('TTL and --fqdn-min-ttl', () => {
  it('a short TTL is raised to the minimum; a long one is kept', () => {
    const cache = new FqdnCache({ minTtl: 3600 });
    cache.learn('short.io', ['192.0.2.1'], 60, 1000);
    cache.learn('long.io', ['192.0.2.2'], 7200, 1000);
    expect(cache.expiresAt('short.io', '192.0.2.1')).toBe(4600);
    expect(cache.expiresAt('long.io', '192.0.2.2')).toBe(8200);
  });

  it('an entry is live up to and including its expiry second, gone right after', () => {
    const cache = new FqdnCache({ minTtl: 0 });
    expect(brief(cache.learn('a.io', ['192.0.2.1'], 30, 100))).toEqual(['add learned a.io. 192.0.2.1']);
    expect(cache.advance(130)).toEqual([]);
    expect(cache.lookup('a.io')).toEqual(['192.0.2.1']);
    expect(brief(cache.advance(130.001))).toEqual(['remove expired a.io. 192.0.2.1']);
    expect(cache.lookup('a.io')).toEqual([]);
    expect(cache.namesOf('192.0.2.1')).toEqual([]);
    expect(cache.size).toBe(0);
  });

  it('a later answer extends an IP, never shortens it; expiries come out in time order', () => {
    const cache = new FqdnCache({ minTtl: 0 });
    cache.learn('a.io', ['192.0.2.1', '192.0.2.2'], 100, 0);
    expect(cache.learn('a.io', ['192.0.2.1'], 10, 50)).toEqual([]); // shorter: ignored, nothing new
    cache.learn('a.io', ['192.0.2.2'], 500, 50); // longer: kept
    cache.learn('b.io', ['192.0.2.1'], 20, 60);
    expect(brief(cache.advance(1000))).toEqual(['remove expired b.io. 192.0.2.1', 'remove expired a.io. 192.0.2.1', 'remove expired a.io. 192.0.2.2']);
  });

  it('reverse lookups: which names point at an IP now; names and addresses canonical', () => {
    const cache = new FqdnCache({ minTtl: 0 });
    cache.learn('WWW.Example.COM', ['2001:db8:0:0::1', '192.0.2.7'], 60, 0);
    cache.learn('alias.example.com.', ['192.0.2.7'], 30, 0);
    expect(cache.lookup('www.example.com')).toEqual(['192.0.2.7', '2001:db8::1']);
    expect(cache.namesOf('192.0.2.7')).toEqual(['alias.example.com.', 'www.example.com.']);
    cache.advance(31);
    expect(cache.namesOf('192.0.2.7')).toEqual(['www.example.com.']);
  });
});

describe('what is learned from a response', () => {
  it('an allowed NOERROR answer teaches the queried name its addresses', () => {
    const cache = new FqdnCache();
    const r = learnFromResponse(cache, response('api.example.com', [A('api.example.com', '10.10.0.20', 300)]), true, 10);
    expect(r).toMatchObject({ learned: true, name: 'api.example.com.', ips: ['10.10.0.20'], ttl: 300 });
    expect(cache.lookup('api.example.com')).toEqual(['10.10.0.20']);
  });

  it('the answer to a refused query is never learned', () => {
    const cache = new FqdnCache();
    const r = learnFromResponse(cache, response('evil.example.com', [A('evil.example.com', '203.0.113.9', 300)]), false, 10);
    expect(r).toMatchObject({ learned: false, why: 'refused' });
    expect(cache.size).toBe(0);
    expect(cache.namesOf('203.0.113.9')).toEqual([]);
  });

  it('NXDOMAIN, answers without addresses and out-of-chain records are not learned', () => {
    const cache = new FqdnCache();
    expect(learnFromResponse(cache, response('x.io', [], 3), true, 0)).toMatchObject({ learned: false, why: 'rcode' });
    expect(learnFromResponse(cache, response('x.io', []), true, 0)).toMatchObject({ learned: false, why: 'no-addresses' });
    // ExtractMsgDetails rejects an A record for a name the chain never reached.
    expect(learnFromResponse(cache, response('x.io', [A('y.io', '192.0.2.1', 60)]), true, 0)).toMatchObject({ learned: false, why: 'malformed' });
    expect(cache.size).toBe(0);
  });

  it('a CNAME chain: the addresses at its end belong to the queried name, with the lowest TTL of the chain', () => {
    const cache = new FqdnCache({ minTtl: 0 });
    const msg = response('docs.cilium.io', [
      CNAME('docs.cilium.io', 'cilium.readthedocs.io', 30),
      CNAME('cilium.readthedocs.io', 'readthedocs.map.fastly.net', 600),
      A('readthedocs.map.fastly.net', '151.101.1.195', 60),
      A('readthedocs.map.fastly.net', '151.101.65.195', 60),
    ]);
    const r = learnFromResponse(cache, msg, true, 0);
    expect(r).toMatchObject({ learned: true, ttl: 30, ips: ['151.101.1.195', '151.101.65.195'] });
    expect(cache.lookup('docs.cilium.io')).toEqual(['151.101.1.195', '151.101.65.195']);
    // As in Cilium (#30588): the CNAME targets learn nothing...
    expect(cache.lookup('cilium.readthedocs.io')).toEqual([]);
    expect(cache.namesOf('151.101.1.195')).toEqual(['docs.cilium.io.']);
    // ...unless asked to give the addresses to every name of the chain.
    const chain = new FqdnCache({ minTtl: 0 });
    learnFromResponse(chain, msg, true, 0, { learnCnameTargets: true });
    expect(chain.namesOf('151.101.1.195')).toEqual(['cilium.readthedocs.io.', 'docs.cilium.io.', 'readthedocs.map.fastly.net.']);
    expect(chain.expiresAt('readthedocs.map.fastly.net', '151.101.1.195')).toBe(30);
  });

  it('expired pairs are removed before a response is considered, and reported first', () => {
    const cache = new FqdnCache({ minTtl: 0 });
    cache.learn('old.io', ['192.0.2.1'], 5, 0);
    const r = learnFromResponse(cache, response('new.io', [A('new.io', '192.0.2.2', 60)]), true, 10);
    expect(brief(r.changes)).toEqual(['remove expired old.io. 192.0.2.1', 'add learned new.io. 192.0.2.2']);
  });
});

describe('bounds', () => {
  it('per name: the IPs that expire first go, ties in learning order; the same inputs evict the same IPs', () => {
    const run = () => {
      const cache = new FqdnCache({ minTtl: 0, maxIpsPerName: 3 });
      const changes: FqdnCacheChange[] = [];
      changes.push(...cache.learn('s3.io', ['192.0.2.1', '192.0.2.2'], 100, 0));
      changes.push(...cache.learn('s3.io', ['192.0.2.3'], 50, 0)); // expires first
      changes.push(...cache.learn('s3.io', ['192.0.2.4', '192.0.2.5'], 100, 0));
      return { cache, changes };
    };
    const { cache, changes } = run();
    expect(cache.lookup('s3.io')).toEqual(['192.0.2.2', '192.0.2.4', '192.0.2.5']);
    expect(brief(changes.filter((c) => c.kind === 'remove'))).toEqual(['remove evicted s3.io. 192.0.2.3', 'remove evicted s3.io. 192.0.2.1']);
    expect(brief(run().changes)).toEqual(brief(changes));
    expect(cache.namesOf('192.0.2.1')).toEqual([]);
  });

  it('an answer with more IPs than the bound keeps the last ones and never reports the others', () => {
    const cache = new FqdnCache({ minTtl: 0, maxIpsPerName: 2 });
    const changes = cache.learn('many.io', ['192.0.2.1', '192.0.2.2', '192.0.2.3', '192.0.2.4'], 60, 0);
    expect(brief(changes)).toEqual(['add learned many.io. 192.0.2.3', 'add learned many.io. 192.0.2.4']);
    expect(cache.size).toBe(2);
  });

  it('in total: the earliest-expiring pair of any name goes; memory stays bounded under churn', () => {
    const cache = new FqdnCache({ minTtl: 0, maxEntries: 100 });
    for (let i = 0; i < 5000; i++) {
      cache.learn(`n${i % 300}.io`, [`198.51.${(i >> 8) & 255}.${i & 255}`], 10 + (i % 17), i / 10);
      expect(cache.size).toBeLessThanOrEqual(100);
    }
    // Stale heap items are compacted away: the heap stays within a constant factor.
    expect((cache as unknown as { heap: { size: number } }).heap.size).toBeLessThanOrEqual(2 * cache.size + 64);
  });

  it('rejects impossible options', () => {
    expect(() => new FqdnCache({ maxIpsPerName: 0 })).toThrow(RangeError);
    expect(() => new FqdnCache({ minTtl: -1 })).toThrow(RangeError);
  });
});
