/**
 * Every error hubcap reports to a user, in one file (the habit of undici's lib/core/errors.js).
 *
 * The edges of the pipeline (capture files, YAML loading, the command line, the native loader)
 * throw these; the CLI prints `hubcap: <message>` on one line and exits 2. The core (decode,
 * datapath) never throws on packet contents: a bad packet yields a record or a drop code instead.
 *
 * `code` is API: tests and scripts may match on it.
 */

export type HubcapErrorCode =
  | 'HUBCAP_ERR_USAGE'
  | 'HUBCAP_ERR_CAPTURE'
  | 'HUBCAP_ERR_INPUT'
  | 'HUBCAP_ERR_POLICY'
  | 'HUBCAP_ERR_EXPECT'
  | 'HUBCAP_ERR_LIVE'
  | 'HUBCAP_ERR_NATIVE'
  | 'HUBCAP_ERR_CAPACITY';

export class HubcapError extends Error {
  readonly code: HubcapErrorCode;
  constructor(code: HubcapErrorCode, message: string) {
    super(message);
    this.name = 'HubcapError';
    this.code = code;
  }
}

/** Bad command-line usage: unknown flag, missing argument, impossible value. */
export class UsageError extends HubcapError {
  constructor(message: string) {
    super('HUBCAP_ERR_USAGE', message);
    this.name = 'UsageError';
  }
}

/** A capture that cannot be read: corrupt header, impossible record length, unreadable file. */
export class CaptureError extends HubcapError {
  readonly file: string;
  readonly byteOffset: number;
  constructor(file: string, byteOffset: number, reason: string) {
    super('HUBCAP_ERR_CAPTURE', `${file}: byte ${byteOffset}: ${reason}`);
    this.name = 'CaptureError';
    this.file = file;
    this.byteOffset = byteOffset;
  }
}

/** Where in a YAML/JSON input a problem is: 1-based line and column. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

export function formatPosition(pos: SourcePosition): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** A malformed cluster object or policy; `fieldPath` is the dotted path inside the object. */
export class InputError extends HubcapError {
  readonly position: SourcePosition | undefined;
  readonly fieldPath: string | undefined;
  constructor(position: SourcePosition | undefined, reason: string, fieldPath?: string, code: HubcapErrorCode = 'HUBCAP_ERR_INPUT') {
    const where = position ? `${formatPosition(position)}: ` : '';
    const field = fieldPath ? `${fieldPath}: ` : '';
    super(code, `${where}${field}${reason}`);
    this.name = 'InputError';
    this.position = position;
    this.fieldPath = fieldPath;
  }
}

/** A policy that parses as YAML but is not a valid policy (unknown field, wrong type, bad selector). */
export class PolicyError extends InputError {
  constructor(position: SourcePosition | undefined, reason: string, fieldPath?: string) {
    super(position, reason, fieldPath, 'HUBCAP_ERR_POLICY');
    this.name = 'PolicyError';
  }
}

/** Live capture could not start: no permission, unknown interface, bad BPF filter. */
export class LiveCaptureError extends HubcapError {
  constructor(message: string) {
    super('HUBCAP_ERR_LIVE', message);
    this.name = 'LiveCaptureError';
  }
}

/** The native addon is missing or refused its input. */
export class NativeError extends HubcapError {
  constructor(message: string) {
    super('HUBCAP_ERR_NATIVE', message);
    this.name = 'NativeError';
  }
}

/** A table could not get the memory its configured size needs. */
export class CapacityError extends HubcapError {
  constructor(message: string) {
    super('HUBCAP_ERR_CAPACITY', message);
    this.name = 'CapacityError';
  }
}

export function isHubcapError(err: unknown): err is HubcapError {
  return err instanceof HubcapError;
}
