import { describe, expect, it } from 'vitest';
import { parseMarkdown, type Block } from './markdown.ts';

const text = (cells: Block & { kind: 'table' }) => cells.rows.map((r) => r.map((c) => c.map((i) => ('text' in i ? i.text : '')).join('')));

describe('report tables', () => {
  it('keeps escaped pipes and backslashes inside a cell, as the report writes them', () => {
    const md = ['| host | argv |', '|---|---|', '| lab-source | sh -c [ -e "$fd" ] \\|\\| continue |', '| lab-target | printf a\\\\b |'].join('\n');
    const table = parseMarkdown(md).find((b) => b.kind === 'table') as Block & { kind: 'table' };
    expect(table.rows).toHaveLength(2);
    expect(text(table)).toEqual([
      ['lab-source', 'sh -c [ -e "$fd" ] || continue'],
      ['lab-target', 'printf a\\b'],
    ]);
  });
});
