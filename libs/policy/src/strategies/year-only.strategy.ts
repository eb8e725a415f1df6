import { type AnonymizationStrategy, isDateColumn } from './strategy';

/** Generalizes a date or timestamp to the first instant of its year (birth dates, event times). */
export const yearOnlyStrategy: AnonymizationStrategy = {
  name: 'year_only',
  check: (c) => (isDateColumn(c) ? null : `needs a date or timestamp column, but "${c.name}" is ${c.type}`),
  expression: (col, c) => `date_trunc('year', ${col})::${c.type.toLowerCase() === 'date' ? 'date' : c.type}`,
};
