/**
 * `--time-format` layouts as Go formats them (UTC, truncated fractions, `_2` space-padded days,
 * `.999` trailing zeros trimmed). Reference values: hubble/pkg/printer/printer_test.go
 * Test_fmtTimestamp (StampMilli of 0 and of 1530984600.123) and Go's time package layouts.
 */
import { describe, expect, it } from 'vitest';
import { formatFlowTime, isTimeFormat, TIME_FORMATS } from '../../src/flow/compact.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

describe('time formats', () => {
  it('StampMilli, as printer_test.go', () => {
    expect(formatFlowTime(0, 0)).toBe('Jan  1 00:00:00.000');
    expect(formatFlowTime(1530984600, 123000000)).toBe('Jul  7 17:30:00.123');
    expect(formatFlowTime(1234, 567800000, 'StampMilli')).toBe('Jan  1 00:20:34.567');
  });

  it('truncates, never rounds', () => {
    expect(formatFlowTime(1530984600, 999999999, 'StampMilli')).toBe('Jul  7 17:30:00.999');
    expect(formatFlowTime(1530984600, 999999999, 'RFC3339Micro')).toBe('2018-07-07T17:30:00.999999Z');
  });

  it('every layout', () => {
    const t = [1530984600, 120000000] as const;
    expect(TIME_FORMATS.map((f) => [f, formatFlowTime(t[0], t[1], f)])).toEqual([
      ['StampMilli', 'Jul  7 17:30:00.120'],
      ['StampMicro', 'Jul  7 17:30:00.120000'],
      ['StampNano', 'Jul  7 17:30:00.120000000'],
      ['YearMonthDay', '2018-07-07'],
      ['YearMonthDayHour', '2018-07-07T17Z'],
      ['RFC3339', '2018-07-07T17:30:00Z'],
      ['RFC3339Milli', '2018-07-07T17:30:00.12Z'],
      ['RFC3339Micro', '2018-07-07T17:30:00.12Z'],
      ['RFC3339Nano', '2018-07-07T17:30:00.12Z'],
      ['RFC1123Z', 'Sat, 07 Jul 2018 17:30:00 +0000'],
    ]);
    expect(formatFlowTime(t[0], 0, 'RFC3339Nano')).toBe('2018-07-07T17:30:00Z');
  });

  it('agrees with Date on a spread of instants (StampMilli, RFC1123Z)', () => {
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    for (let i = 0; i < 500; i++) {
      const sec = Math.floor(((i * 2654435761) % 4102444800) + i * 7919);
      const nsec = (i * 104729) % 1_000_000_000;
      const d = new Date(sec * 1000 + Math.floor(nsec / 1e6));
      const dd = d.getUTCDate();
      const hms = d.toISOString().slice(11, 19);
      const ms = String(Math.floor(nsec / 1e6)).padStart(3, '0');
      expect(formatFlowTime(sec, nsec)).toBe(`${MONTHS[d.getUTCMonth()]} ${dd < 10 ? ` ${dd}` : dd} ${hms}.${ms}`);
      expect(formatFlowTime(sec, nsec, 'RFC1123Z')).toBe(
        `${days[d.getUTCDay()]}, ${String(dd).padStart(2, '0')} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hms} +0000`,
      );
    }
  });

  it('knows its names', () => {
    expect(isTimeFormat('StampMilli')).toBe(true);
    expect(isTimeFormat('stampmilli')).toBe(false);
  });
});
