import { describe, expect, it } from 'vitest';
import { UNSTORABLE_TEXT_MESSAGE, unstorableTextIssues } from './storable-text';

describe('text PostgreSQL cannot hold', () => {
  it('names every field with NUL or an unpaired surrogate, at any depth', () => {
    const body = { subject: { type: 'user', id: 'a\u0000b' }, reason: 'fine', tags: ['ok', '\ud800', 'x\udc00y'], n: 1, b: true, z: null };
    expect(unstorableTextIssues(body)).toEqual([
      { path: 'subject.id', message: UNSTORABLE_TEXT_MESSAGE },
      { path: 'tags.1', message: UNSTORABLE_TEXT_MESSAGE },
      { path: 'tags.2', message: UNSTORABLE_TEXT_MESSAGE },
    ]);
  });

  it('accepts every other character, paired surrogates (emoji) and control characters included', () => {
    expect(unstorableTextIssues({ id: 'Zoë 😀 \u0001\t\n\u00ff\uffff', list: ['日本'] })).toEqual([]);
  });

  it('names a top-level string by an empty path', () => {
    expect(unstorableTextIssues('\u0000')).toEqual([{ path: '', message: UNSTORABLE_TEXT_MESSAGE }]);
  });
});
