import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isPublicAddress } from './public-address.ts';

describe('isPublicAddress', () => {
  it('accepts public IPv4 and IPv6 unicast', () => {
    for (const address of ['8.8.8.8', '1.1.1.1', '93.184.215.14', '100.63.255.255', '100.128.0.0', '172.15.255.255', '172.32.0.0', '192.167.255.255', '192.169.0.0', '198.17.255.255', '198.20.0.0', '223.255.255.255', '2606:4700::1111', '2a00:1450:4001:80b::200e', '2001:200::1', '2001:4860:4860::8888', '3ffe::1']) {
      assert.equal(isPublicAddress(address), true, address);
    }
  });

  it('refuses loopback, private, link-local, CGNAT, unspecified, multicast, reserved, benchmarking and documentation IPv4', () => {
    for (const address of [
      '127.0.0.1', '127.255.255.254', '10.0.0.1', '10.255.255.255', '172.16.0.1', '172.31.255.255', '192.168.0.1', '192.168.255.255',
      '169.254.169.254', '169.254.0.1', '100.64.0.1', '100.127.255.255', '0.0.0.0', '0.1.2.3', '224.0.0.1', '239.255.255.250',
      '240.0.0.1', '255.255.255.255', '198.18.0.1', '198.19.255.255', '192.0.2.1', '198.51.100.7', '203.0.113.9', '192.0.0.170',
      '192.88.99.1',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
  });

  it('refuses loopback, unspecified, unique-local, link-local, multicast, documentation and other special IPv6', () => {
    for (const address of [
      '::1', '::', '0:0:0:0:0:0:0:1', 'fc00::1', 'fd12:3456:789a::1', 'fe80::1', 'fe80::1%eth0', 'febf::1', 'ff02::1', 'ff05::1:3',
      '2001:db8::1', '3fff::1', '2001::1', '2001:0:4136:e378:8000:63bf:3fff:fdd2', '2001:2::1', '100::1', '64:ff9b:1::a00:1', 'fec0::1',
      '5f00::1',
    ]) {
      assert.equal(isPublicAddress(address), false, address);
    }
  });

  it('judges IPv4-mapped, NAT64 and 6to4 addresses by the IPv4 address inside, and refuses IPv4-compatible ones', () => {
    const cases: [string, boolean][] = [
      ['::ffff:127.0.0.1', false],
      ['::ffff:7f00:1', false],
      ['::ffff:169.254.169.254', false],
      ['::ffff:a9fe:a9fe', false],
      ['::ffff:10.0.0.1', false],
      ['0:0:0:0:0:ffff:c0a8:0101', false],
      ['::ffff:8.8.8.8', true],
      ['64:ff9b::127.0.0.1', false],
      ['64:ff9b::a9fe:a9fe', false],
      ['64:ff9b::808:808', true],
      ['2002:7f00:1::1', false],
      ['2002:a9fe:a9fe::', false],
      ['2002:c0a8:101:1::1', false],
      ['2002:808:808::1', true],
      ['::127.0.0.1', false],
      ['::8.8.8.8', false],
      ['::ffff:0:8.8.8.8', false],
    ];
    for (const [address, expected] of cases) assert.equal(isPublicAddress(address), expected, address);
  });

  it('gives every IPv4 address the same answer bare, mapped, behind NAT64 and inside 6to4', () => {
    const hex = (a: number, b: number) => ((a << 8) | b).toString(16);
    // The first octets of the special ranges are drawn often, so both answers are exercised.
    const first = fc.oneof(fc.nat(255), fc.constantFrom(0, 10, 100, 127, 169, 172, 192, 198, 203, 224, 240, 255));
    fc.assert(
      fc.property(fc.tuple(first, fc.nat(255), fc.nat(255), fc.nat(255)), ([a, b, c, d]) => {
        const expected = isPublicAddress(`${a}.${b}.${c}.${d}`);
        assert.equal(isPublicAddress(`::ffff:${a}.${b}.${c}.${d}`), expected);
        assert.equal(isPublicAddress(`64:ff9b::${hex(a, b)}:${hex(c, d)}`), expected);
        assert.equal(isPublicAddress(`2002:${hex(a, b)}:${hex(c, d)}::1`), expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses text that is not an IP address (fail closed on a strange resolver answer)', () => {
    for (const address of ['', 'localhost', 'example.com', '2130706433', '0x7f.1', '127.1', '[::1]', '1.2.3.4.5', '::ffff:999.0.0.1']) {
      assert.equal(isPublicAddress(address), false, address);
    }
  });
});
