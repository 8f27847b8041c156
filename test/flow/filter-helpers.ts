/** Runs a filter over the named cases of fixtures.ts and returns the names it keeps. */
import { FlowContext } from '../../src/flow/context.js';
import { compileFlowFilter, type FlowFilterOptions } from '../../src/flow/filter.js';
import { cases, starWarsDoc } from './fixtures.js';

export const filterCtx = new FlowContext(starWarsDoc());
export const filterCases = cases();

export function kept(opts: FlowFilterOptions): string[] {
  const pred = compileFlowFilter(opts, filterCtx);
  if (pred === undefined) return Object.keys(filterCases);
  return Object.entries(filterCases)
    .filter(([, ev]) => pred(ev))
    .map(([name]) => name);
}
