/**
 * Kafka rules: they load and redirect, but hubcap has no Kafka parser, so the traffic they
 * redirect is decided at L3/L4 and every flow of it says so (issue 5: "the traffic they redirect
 * is decided at L4 and flagged 'kafka rules not evaluated' in its flows and in the summary").
 *
 * Policy: docs.cilium.io Layer 7 Policies > Kafka (beta), "Allow producing to topic
 * empire-announce using Role" (examples/l7/policies/kafka). Traffic: real Kafka wire format
 * (kafka.apache.org/protocol: Produce API key 0, version 0, with a v0 message set) from client,
 * which the policy's L3/L4 part allows, and from client2, which it does not (docs.cilium.io
 * "Policy Enforcement Modes": once a rule selects the broker with an ingress section, the broker
 * "goes into default deny at ingress").
 */
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CLIENT, CLIENT2, KAFKA, L7Capture, finals, l7, ofPort, replayJson, runReplay, show, tempDir, type Flow } from '../helpers/l7-capture.js';

const POLICY = 'examples/l7/policies/kafka';
const tmp = tempDir();
let capture: string;
let flows: Flow[];

function i16(v: number): number[] {
  return [(v >> 8) & 0xff, v & 0xff];
}
function i32(v: number): number[] {
  return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
}
function str(s: string): number[] {
  return [...i16(s.length), ...Buffer.from(s)];
}
/** A request or response with its int32 size prefix. */
function sized(body: number[]): Uint8Array {
  return Uint8Array.from([...i32(body.length), ...body]);
}

/** ProduceRequest v0 of one message to partition 0 of `topic`. */
function produce(correlationId: number, topic: string, value: string): Uint8Array {
  // Message v0: crc, magic 0, attributes 0, key null (-1), value.
  const payload = [0, 0, ...i32(-1 >>> 0), ...i32(value.length), ...Buffer.from(value)];
  const message = [...i32(crc32(Buffer.from(payload))), ...payload];
  const messageSet = [...i32(0), ...i32(0), ...i32(message.length), ...message]; // offset (int64 0), size
  return sized([
    ...i16(0), // api_key Produce
    ...i16(0), // api_version
    ...i32(correlationId),
    ...str('empire-hq'),
    ...i16(1), // acks
    ...i32(1000), // timeout ms
    ...i32(1), // topics
    ...str(topic),
    ...i32(1), // partitions
    ...i32(0),
    ...i32(messageSet.length),
    ...messageSet,
  ]);
}

function produceResponse(correlationId: number, topic: string): Uint8Array {
  return sized([...i32(correlationId), ...i32(1), ...str(topic), ...i32(1), ...i32(0), ...i16(0), ...i32(0), ...i32(7)]);
}

const PORTS = { allowedTopic: 44001, otherTopic: 44002, client2: 44003 };

beforeAll(() => {
  const cap = new L7Capture();
  const broker = { ip: KAFKA, port: 9092 };
  let c = cap.tcp({ ip: CLIENT, port: PORTS.allowedTopic }, broker).open();
  c.exchange(produce(1, 'empire-announce', 'Death Star construction on schedule'), produceResponse(1, 'empire-announce'));
  c.close();
  // A topic the rules do not name: Kafka-aware enforcement would reject it; hubcap cannot tell.
  c = cap.tcp({ ip: CLIENT, port: PORTS.otherTopic }, broker).open();
  c.exchange(produce(2, 'secret-plans', 'exhaust port 2m wide'), produceResponse(2, 'secret-plans'));
  c.close();
  c = cap.tcp({ ip: CLIENT2, port: PORTS.client2 }, broker).open();
  c.exchange(produce(3, 'empire-announce', 'hello'), produceResponse(3, 'empire-announce'));
  c.close();
  capture = cap.write(join(tmp.dir, 'l7-kafka.pcap'));
  flows = replayJson(capture, POLICY);
});
afterAll(() => tmp.cleanup());

test('client to the broker: decided at L3/L4 (the rule allows client on 9092), every final event flagged l7_not_evaluated', () => {
  for (const port of [PORTS.allowedTopic, PORTS.otherTopic]) {
    const fin = finals(ofPort(flows, port));
    expect(fin.length).toBeGreaterThan(0);
    expect(fin.filter((f) => f.verdict !== 'FORWARDED'), show(fin)).toEqual([]);
    expect(fin.filter((f) => f.hubcap?.l7_not_evaluated !== true), show(fin)).toEqual([]);
  }
});

test('no L7 record is invented for Kafka', () => {
  expect(l7(flows), show(l7(flows))).toEqual([]);
});

test('client2 is dropped at L3/L4 before any proxy: its flows are not flagged', () => {
  const fin = finals(ofPort(flows, PORTS.client2));
  expect(fin.length).toBeGreaterThan(0);
  expect(fin.every((f) => f.verdict === 'DROPPED' && f.drop_reason_desc === 'POLICY_DENIED'), show(fin)).toBe(true);
  expect(fin.some((f) => f.hubcap?.l7_not_evaluated)).toBe(false);
});

test('the summary says the Kafka rules were not evaluated', () => {
  const r = runReplay(capture, POLICY, ['-o', 'summary']);
  expect(r.status, r.stderr).toBe(0);
  expect(r.stdout, r.stdout).toMatch(/kafka[^\n]*not evaluated/i);
});
