/**
 * DNS messages for the DNS proxy stage: parse what the client and the server said, and build the
 * answers the proxy itself gives.
 *
 * Mirrors: pkg/fqdn/dnsproxy/proxy.go (`ServeDNS`, `sendRefused`, `ExtractMsgDetails`) and the
 * cilium/dns server it is built on (miekg/dns: `acceptfunc.go` defaultMsgAcceptFunc,
 * `server.go` serveDNS/serveTCP, `defaults.go` SetReply/SetRcode/SetRcodeFormatError,
 * `msg.go` UnpackDomainName and the `bad rdlength` check of UnpackRRWithHeader).
 *
 * Parsing is layered:
 *  1. A structural walk of our own checks the frame exactly as miekg/dns does before anything is
 *     believed: header, counts, every name (labels, compression pointers only backwards, at most
 *     255 octets), every resource record's RDLENGTH inside the message, and for A (4 bytes), AAAA
 *     (16) and CNAME (one name filling the RDATA) that the RDATA is what the type says. Names come
 *     out in miekg's presentation format (`a\.b.example.com.`, `\000`), byte-exact, because the
 *     proxy matches policy against that text; dns-packet joins raw labels with dots and decodes
 *     them as UTF-8, which would let a label holding a dot match a wildcard it must not match.
 *  2. dns-packet, the wire-format library, decodes each question and record at the offsets the walk
 *     validated: types and classes by name, A/AAAA addresses, TTLs. A record type whose dns-packet
 *     decoder disagrees with its RDLENGTH (or throws) is kept by type name without data, as
 *     miekg would still accept the message; hubcap never needs data of such types.
 *
 * Nothing here throws on message contents and every loop is bounded by the message length:
 * malformed input is an `{ ok: false, error }` result (fuzzed in test/proxy/dns-fuzz.test.ts).
 * Deliberate differences: the extended RCODE of an OPT record is not folded into `rcode`;
 * trailing bytes after the last section are ignored (as miekg and dns-packet do).
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import dnsPacket from 'dns-packet';
import type { L7Dns } from '../datapath/events.js';
import { formatIp, parseIp } from '../net/addr.js';

/** RCODEs (RFC 1035 4.1.1, RFC 2136), as miekg's Rcode* constants. */
export const DnsRcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;

/** miekg/dns RcodeToString (the names `dig` and Hubble print). */
const RCODE_NAMES: readonly string[] = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];

export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `RCODE${rcode}`;
}

export const DnsOpcode = {
  QUERY: 0,
  IQUERY: 1,
  STATUS: 2,
  NOTIFY: 4,
  UPDATE: 5,
} as const;

export const DnsType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
} as const;

export const DNS_HEADER_LENGTH = 12;
/** RFC 1035 2.3.4: a name is at most 255 octets on the wire, root label included. */
export const DNS_MAX_NAME_OCTETS = 255;

/** Header flag bits (second header word). */
const QR = 0x8000;
const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;
const Z = 0x0040;
const AD = 0x0020;
const CD = 0x0010;

export interface DnsQuestion {
  /** Presentation format with the trailing dot, case as sent (`www.Example.com.`). */
  name: string;
  type: number;
  /** `A`, `AAAA`, ..., or `TYPE65280` (RFC 3597) for types dns-packet does not name. */
  typeName: string;
  class: number;
}

export interface DnsRecord {
  name: string;
  type: number;
  typeName: string;
  class: number;
  ttl: number;
  /** A/AAAA: the address (dotted quad, RFC 5952); CNAME: the target name (presentation format). */
  data?: string;
}

export interface DnsMessage {
  id: number;
  /** QR: false for a query, true for a response. */
  qr: boolean;
  opcode: number;
  aa: boolean;
  tc: boolean;
  rd: boolean;
  ra: boolean;
  ad: boolean;
  cd: boolean;
  rcode: number;
  questions: DnsQuestion[];
  answers: DnsRecord[];
  authorities: DnsRecord[];
  additionals: DnsRecord[];
}

export type DnsParseResult =
  | { ok: true; message: DnsMessage }
  /** `id` is set when at least the header could be read. */
  | { ok: false; error: string; id?: number };

// --- names ----------------------------------------------------------------------------------

/** miekg isDomainNameLabelSpecial: characters escaped with a backslash in presentation format. */
function isLabelSpecial(b: number): boolean {
  return b === 0x2e || b === 0x20 || b === 0x27 || b === 0x40 || b === 0x3b || b === 0x28 || b === 0x29 || b === 0x22 || b === 0x5c;
}

/** Result slots of `readName` (module scratch: one name is read at a time). */
let nameText = '';
/** Offset just after the name where it started (pointers end it early). */
let nameNext = 0;
let nameError = '';
/** When set, the raw uncompressed labels are appended here (for echoing a question). */
let nameRaw: number[] | undefined;

/**
 * Reads a possibly compressed name at `off` within `buf[0..end)`. On success sets nameText and
 * nameNext and returns true; otherwise sets nameError. Pointers must point before the start of
 * the labels that used them (as dns-packet requires), so the walk always terminates.
 */
function readName(buf: Uint8Array, off: number, end: number): boolean {
  let text = '';
  let octets = 0;
  let segmentStart = off;
  let next = -1;
  for (;;) {
    if (off >= end) {
      nameError = 'name runs past the end of the message';
      return false;
    }
    const len = buf[off]!;
    if (len === 0) {
      off++;
      break;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (off + 1 >= end) {
        nameError = 'compression pointer runs past the end of the message';
        return false;
      }
      const target = ((len & 0x3f) << 8) | buf[off + 1]!;
      if (target >= segmentStart) {
        nameError = 'compression pointer does not point backwards';
        return false;
      }
      if (next < 0) next = off + 2;
      off = target;
      segmentStart = target;
      continue;
    }
    if (kind !== 0) {
      nameError = 'reserved label type';
      return false;
    }
    if (off + 1 + len > end) {
      nameError = 'label runs past the end of the message';
      return false;
    }
    octets += len + 1;
    if (octets + 1 > DNS_MAX_NAME_OCTETS) {
      nameError = 'name longer than 255 octets';
      return false;
    }
    if (nameRaw) nameRaw.push(len);
    for (let i = off + 1; i <= off + len; i++) {
      const b = buf[i]!;
      if (nameRaw) nameRaw.push(b);
      if (isLabelSpecial(b)) text += '\\' + String.fromCharCode(b);
      else if (b < 0x21 || b > 0x7e) text += '\\' + String(b).padStart(3, '0');
      else text += String.fromCharCode(b);
    }
    text += '.';
    off += len + 1;
  }
  nameText = text === '' ? '.' : text;
  nameNext = next < 0 ? off : next;
  return true;
}

/** Lowercases ASCII letters only (Go's strings.ToLower on presentation text, which is ASCII). */
export function lowerName(name: string): string {
  return name.toLowerCase();
}

/** `dns.Fqdn`: the name with a trailing dot. */
export function fqdn(name: string): string {
  return name.endsWith('.') ? name : name + '.';
}

// --- dns-packet glue ------------------------------------------------------------------------

interface PacketCodec<T> {
  decode: ((buf: Buffer, offset?: number) => T) & { bytes: number };
}
interface PacketRecord {
  name: string;
  type: string;
  class?: string;
  ttl?: number;
  data?: unknown;
}
interface PacketQuestion {
  name: string;
  type: string;
  class: string;
}
/** dns-packet exports its section codecs (`question`, `answer`); @types/dns-packet types only encode/decode. */
const codecs = dnsPacket as unknown as { question: PacketCodec<PacketQuestion>; answer: PacketCodec<PacketRecord> };

/** dns-packet's type table (`dns-packet/types`, untyped): names records it could not decode too. */
const packetTypes = createRequire(import.meta.url)('dns-packet/types') as { toString(type: number): string };

/** dns-packet names unknown types `UNKNOWN_<n>`; presentation format (RFC 3597, miekg) says `TYPE<n>`. */
function typeNameOf(packetType: string | undefined, type: number): string {
  const name = packetType ?? packetTypes.toString(type);
  return name.startsWith('UNKNOWN_') ? `TYPE${type}` : name;
}

function bufferView(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// --- parsing --------------------------------------------------------------------------------

function u16(buf: Uint8Array, off: number): number {
  return (buf[off]! << 8) | buf[off + 1]!;
}

function u32(buf: Uint8Array, off: number): number {
  return ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
}

let walkError = '';

/** Reads `count` resource records of one section into `out`; returns the offset after them or -1. */
function readRecords(msg: Uint8Array, buf: Buffer, off: number, count: number, section: string, out: DnsRecord[]): number {
  const end = msg.length;
  for (let i = 0; i < count; i++) {
    const start = off;
    if (!readName(msg, off, end)) {
      walkError = `${section} record ${i}: ${nameError}`;
      return -1;
    }
    const name = nameText;
    off = nameNext;
    if (off + 10 > end) {
      walkError = `${section} record ${i}: truncated record header`;
      return -1;
    }
    const type = u16(msg, off);
    const klass = u16(msg, off + 2);
    const ttl = u32(msg, off + 4);
    const rdlength = u16(msg, off + 8);
    const rdata = off + 10;
    const rdEnd = rdata + rdlength;
    if (rdEnd > end) {
      walkError = `${section} record ${i}: RDATA (${rdlength} bytes) runs past the end of the message`;
      return -1;
    }
    const record: DnsRecord = { name, type, typeName: typeNameOf(undefined, type), class: klass, ttl };
    if (type === DnsType.A || type === DnsType.AAAA) {
      const want = type === DnsType.A ? 4 : 16;
      if (rdlength !== want) {
        walkError = `${section} record ${i}: bad rdlength ${rdlength} for ${type === DnsType.A ? 'A' : 'AAAA'}`;
        return -1;
      }
    } else if (type === DnsType.CNAME) {
      if (!readName(msg, rdata, rdEnd) || nameNext !== rdEnd) {
        walkError = `${section} record ${i}: bad CNAME target${nameError ? `: ${nameError}` : ''}`;
        return -1;
      }
      record.data = nameText;
    }
    // dns-packet decodes the record at the validated offset.
    let decoded: PacketRecord | undefined;
    try {
      decoded = codecs.answer.decode(buf, start);
      if (codecs.answer.decode.bytes !== rdEnd - start) decoded = undefined;
    } catch {
      decoded = undefined;
    }
    if (decoded) {
      record.typeName = typeNameOf(decoded.type, type);
      if ((type === DnsType.A || type === DnsType.AAAA) && typeof decoded.data === 'string') {
        const ip = parseIp(decoded.data);
        if (ip) record.data = formatIp(ip.words, ip.family);
      }
    } else if (type === DnsType.A || type === DnsType.AAAA || type === DnsType.CNAME) {
      walkError = `${section} record ${i}: dns-packet cannot decode it`;
      return -1;
    }
    out.push(record);
    off = rdEnd;
  }
  return off;
}

/**
 * Parses one DNS message: `length` bytes of `bytes` from `offset` (a UDP payload, or one frame of
 * a TCP stream without its length prefix). The bytes are not copied; the result holds no
 * reference to them.
 */
export function parseDnsMessage(bytes: Uint8Array, offset = 0, length = bytes.length - offset): DnsParseResult {
  if (offset < 0 || length < 0 || offset + length > bytes.length) return { ok: false, error: 'bad slice' };
  const msg = bytes.subarray(offset, offset + length);
  if (msg.length < DNS_HEADER_LENGTH) return { ok: false, error: `message shorter than the ${DNS_HEADER_LENGTH}-byte header` };
  const id = u16(msg, 0);
  const flags = u16(msg, 2);
  const counts = [u16(msg, 4), u16(msg, 6), u16(msg, 8), u16(msg, 10)] as const;
  const message: DnsMessage = {
    id,
    qr: (flags & QR) !== 0,
    opcode: (flags >> 11) & 0xf,
    aa: (flags & AA) !== 0,
    tc: (flags & TC) !== 0,
    rd: (flags & RD) !== 0,
    ra: (flags & RA) !== 0,
    ad: (flags & AD) !== 0,
    cd: (flags & CD) !== 0,
    rcode: flags & 0xf,
    questions: [],
    answers: [],
    authorities: [],
    additionals: [],
  };
  const buf = bufferView(msg);
  nameRaw = undefined;
  let off = DNS_HEADER_LENGTH;
  for (let i = 0; i < counts[0]; i++) {
    if (!readName(msg, off, msg.length)) return { ok: false, error: `question ${i}: ${nameError}`, id };
    const name = nameText;
    const start = off;
    off = nameNext;
    if (off + 4 > msg.length) return { ok: false, error: `question ${i}: truncated type and class`, id };
    const type = u16(msg, off);
    const klass = u16(msg, off + 2);
    let typeName = typeNameOf(undefined, type);
    try {
      const q = codecs.question.decode(buf, start);
      if (codecs.question.decode.bytes === off + 4 - start) typeName = typeNameOf(q.type, type);
    } catch {
      // Keep the number: the walk already validated the question's framing.
    }
    message.questions.push({ name, type, typeName, class: klass });
    off += 4;
  }
  const sections: Array<[string, DnsRecord[]]> = [
    ['answer', message.answers],
    ['authority', message.authorities],
    ['additional', message.additionals],
  ];
  for (let s = 0; s < 3; s++) {
    const [section, out] = sections[s]!;
    off = readRecords(msg, buf, off, counts[s + 1]!, section, out);
    if (off < 0) return { ok: false, error: walkError, id };
  }
  return { ok: true, message };
}

// --- what the proxy reports (accesslog.LogRecordDNS) ----------------------------------------

/** TTL reported when a message has no answer with a TTL (ExtractMsgDetails starts at MaxUint32). */
export const DNS_NO_TTL = 0xffffffff;

export interface DnsMsgDetails {
  /** First question's name, lowercased, with the trailing dot. */
  qname: string;
  /** A and AAAA addresses of the answer section, in order, along the CNAME chain. */
  ips: string[];
  /** Lowest TTL along the chain (CNAMEs included); DNS_NO_TTL without answers. */
  ttl: number;
  /** CNAME targets in chain order, as sent. */
  cnames: string[];
  rcode: number;
  /** Answer record types, in order. */
  answerTypes: number[];
  questionTypes: number[];
}

export type DnsDetailsResult = { ok: true; details: DnsMsgDetails } | { ok: false; error: string };

/**
 * ExtractMsgDetails: the query name, the answer IPs and the lowest TTL, following the CNAME chain
 * in answer order. Every answer must be owned by the name the chain has reached (the question's
 * name, then each CNAME target), else the whole message is rejected and nothing is learned from it.
 */
export function extractMsgDetails(msg: DnsMessage): DnsDetailsResult {
  const q = msg.questions[0];
  if (!q) return { ok: false, error: 'Invalid DNS message: no question' };
  const qname = lowerName(q.name);
  let rrName = qname;
  let ttl = DNS_NO_TTL;
  const ips: string[] = [];
  const cnames: string[] = [];
  const answerTypes: number[] = [];
  for (const ans of msg.answers) {
    if (lowerName(ans.name) !== rrName) {
      return { ok: false, error: `Unexpected name (${ans.name}) in RRs for ${rrName} (query for ${qname})` };
    }
    if (ans.type === DnsType.A || ans.type === DnsType.AAAA) {
      if (ans.data !== undefined) ips.push(ans.data);
      if (ans.ttl < ttl) ttl = ans.ttl;
    } else if (ans.type === DnsType.CNAME) {
      if (ans.ttl < ttl) ttl = ans.ttl;
      rrName = lowerName(ans.data!);
      cnames.push(ans.data!);
    }
    answerTypes.push(ans.type);
  }
  return {
    ok: true,
    details: { qname, ips, ttl, cnames, rcode: msg.rcode, answerTypes, questionTypes: msg.questions.map((x) => x.type) },
  };
}

/**
 * The access-log record of one DNS message as the proxy logs it (accesslog.LogRecordDNS, filled by
 * NotifyOnDNSMsg from ExtractMsgDetails): the query lowercased with its dot, the answer's
 * addresses, the chain's lowest TTL (MaxUint32 for a query), CNAME targets, RCODE, and type names.
 * Undefined for a message without a question (ExtractMsgDetails fails, nothing is logged).
 */
export function toL7Dns(msg: DnsMessage): L7Dns | undefined {
  const d = extractMsgDetails(msg);
  if (!d.ok) {
    if (msg.questions.length === 0) return undefined;
    // Answers off the chain: the proxy still logs the query it saw, without answer details.
    return { query: lowerName(msg.questions[0]!.name), observationSource: 'proxy', rcode: msg.rcode, qtypes: msg.questions.map((q) => q.typeName) };
  }
  const { details } = d;
  return {
    query: details.qname,
    ips: details.ips,
    ttl: details.ttl,
    cnames: details.cnames,
    observationSource: 'proxy',
    rcode: details.rcode,
    qtypes: msg.questions.map((q) => q.typeName),
    rrtypes: msg.answers.map((a) => a.typeName),
  };
}

// --- what the DNS server in the proxy accepts (miekg defaultMsgAcceptFunc) -------------------

export type DnsAcceptAction = 'accept' | 'formerr' | 'ignore' | 'notimp';

/**
 * What the proxy's DNS server does with a message before any policy check (acceptfunc.go, and
 * serveDNS: a header that cannot be read is dropped silently, "any reply can be used to
 * amplify"): responses are ignored, opcodes other than QUERY/NOTIFY get NOTIMP, odd section
 * counts get FORMERR, and an accepted message that fails to unpack gets FORMERR too.
 */
export function dnsAcceptAction(bytes: Uint8Array, offset = 0, length = bytes.length - offset): DnsAcceptAction {
  if (length < DNS_HEADER_LENGTH || offset < 0 || offset + length > bytes.length) return 'ignore';
  const flags = u16(bytes, offset + 2);
  if ((flags & QR) !== 0) return 'ignore';
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== DnsOpcode.QUERY && opcode !== DnsOpcode.NOTIFY) return 'notimp';
  const qd = u16(bytes, offset + 4);
  const an = u16(bytes, offset + 6);
  const ns = u16(bytes, offset + 8);
  const ar = u16(bytes, offset + 10);
  if (qd !== 1 || an > 1 || ns > 1 || ar > 2) return 'formerr';
  return parseDnsMessage(bytes, offset, length).ok ? 'accept' : 'formerr';
}

/**
 * The server's own answer to a rejected message (serveDNS after SetRcodeFormatError): the request
 * header with QR set, AA and Z cleared, opcode QUERY and RCODE FORMERR, or for NOTIMP the original
 * opcode and RCODE NOTIMP; every section empty. Undefined for 'accept' and 'ignore'.
 */
export function buildDnsReject(bytes: Uint8Array, action: DnsAcceptAction, offset = 0): Uint8Array | undefined {
  if (action !== 'formerr' && action !== 'notimp') return undefined;
  if (offset < 0 || offset + DNS_HEADER_LENGTH > bytes.length) return undefined;
  const out = new Uint8Array(DNS_HEADER_LENGTH);
  out[0] = bytes[offset]!;
  out[1] = bytes[offset + 1]!;
  const flags = u16(bytes, offset + 2);
  let f = (flags | QR) & ~(AA | Z) & ~0x780f; // QR on, AA/Z off, opcode and rcode cleared
  if (action === 'notimp') f |= (flags & 0x7800) | DnsRcode.NOTIMP;
  else f |= DnsRcode.FORMERR;
  out[2] = (f >> 8) & 0xff;
  out[3] = f & 0xff;
  return out;
}

// --- the proxy's REFUSED answer (sendRefused) -----------------------------------------------

/**
 * The DNS proxy's answer to a query its policy denies: sendRefused -> `SetRcode(request,
 * RcodeRefused)` -> SetReply: the request's id, QR=1, the request's opcode, RD and CD copied when
 * the opcode is QUERY, AA/TC/RA/AD/Z all 0 (the proxy never sets RA), RCODE REFUSED (or `rcode`:
 * `--tofqdns-dns-reject-response-code=nameError` gives NXDOMAIN), the FIRST question echoed
 * uncompressed with its type and class, no answer, authority or additional records (no EDNS).
 * Undefined when the query's header or first question cannot be read (the server would not have
 * reached the policy check).
 */
export function buildRefused(query: Uint8Array, offset = 0, length = query.length - offset, rcode: number = DnsRcode.REFUSED): Uint8Array | undefined {
  if (offset < 0 || length < DNS_HEADER_LENGTH || offset + length > query.length) return undefined;
  const msg = query.subarray(offset, offset + length);
  const flags = u16(msg, 2);
  const opcode = (flags >> 11) & 0xf;
  const qd = u16(msg, 4);
  let question: number[] = [];
  if (qd > 0) {
    nameRaw = [];
    const ok = readName(msg, DNS_HEADER_LENGTH, msg.length);
    const raw = nameRaw;
    nameRaw = undefined;
    if (!ok || nameNext + 4 > msg.length) return undefined;
    question = raw;
    question.push(0);
    for (let i = 0; i < 4; i++) question.push(msg[nameNext + i]!);
  }
  const out = new Uint8Array(DNS_HEADER_LENGTH + question.length);
  out[0] = msg[0]!;
  out[1] = msg[1]!;
  let f = QR | (opcode << 11) | (rcode & 0xf);
  if (opcode === DnsOpcode.QUERY) f |= flags & (RD | CD);
  out[2] = (f >> 8) & 0xff;
  out[3] = f & 0xff;
  out[5] = qd > 0 ? 1 : 0;
  out.set(question, DNS_HEADER_LENGTH);
  return out;
}

// --- DNS over TCP (RFC 1035 4.2.2, RFC 7766) ------------------------------------------------

/** One item a TCP stream yields: a parsed message (or the reason it is malformed) and its bytes. */
export interface DnsStreamMessage {
  result: DnsParseResult;
  /** The message bytes without the length prefix (a copy owned by the caller). */
  bytes: Uint8Array;
}

/** miekg/dns readTCP: a frame shorter than a header ends the connection (ErrShortRead). */
export const DNS_TCP_MIN_FRAME = DNS_HEADER_LENGTH;

/**
 * Splits one direction of a DNS-over-TCP stream into messages: each is a 2-byte big-endian length
 * then that many bytes; several may share a segment and one may span many. Feed it the in-order
 * bytes a reassembler delivers (retransmissions already removed). Memory is bounded: at most one
 * partial frame (< 65,537 bytes) is kept. A frame shorter than a DNS header makes the server close
 * the connection (serveTCP stops on the read error): the decoder then reports the error once
 * and ignores everything after it (`closed`).
 */
export class DnsStreamDecoder {
  private pending = new Uint8Array(0);
  private pendingLength = 0;
  /** Set after a frame too short to be a message: the proxy's server closed this connection. */
  closed = false;
  /** Messages (including malformed ones) seen so far. */
  messages = 0;

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pendingLength;
  }

  push(chunk: Uint8Array): DnsStreamMessage[] {
    const out: DnsStreamMessage[] = [];
    if (this.closed || chunk.length === 0) return out;
    let data: Uint8Array;
    if (this.pendingLength > 0) {
      data = new Uint8Array(this.pendingLength + chunk.length);
      data.set(this.pending.subarray(0, this.pendingLength), 0);
      data.set(chunk, this.pendingLength);
    } else {
      data = chunk;
    }
    let off = 0;
    while (data.length - off >= 2) {
      const len = u16(data, off);
      if (len < DNS_TCP_MIN_FRAME) {
        this.closed = true;
        this.messages++;
        out.push({ result: { ok: false, error: `TCP frame of ${len} bytes is shorter than a DNS header; the server closes the connection` }, bytes: new Uint8Array(0) });
        this.pendingLength = 0;
        return out;
      }
      if (data.length - off - 2 < len) break;
      const bytes = data.slice(off + 2, off + 2 + len);
      this.messages++;
      out.push({ result: parseDnsMessage(bytes), bytes });
      off += 2 + len;
    }
    const rest = data.length - off;
    if (rest > 0) {
      if (this.pending.length < rest) this.pending = new Uint8Array(Math.max(rest, Math.min(2 * this.pending.length, 65537)));
      this.pending.set(data.subarray(off), 0);
    }
    this.pendingLength = rest;
    return out;
  }
}

/** Prefixes a message with its 2-byte TCP length (the framing the proxy writes back on TCP). */
export function frameDnsTcp(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(message.length + 2);
  out[0] = (message.length >> 8) & 0xff;
  out[1] = message.length & 0xff;
  out.set(message, 2);
  return out;
}
