import type { ReactNode } from 'react';
import { parseInline, parseMarkdown, type Inline } from '../state/markdown.ts';

function inline(parts: Inline[]): ReactNode[] {
  return parts.map((p, i) => (p.kind === 'code' ? <code key={i}>{p.text}</code> : p.kind === 'strong' ? <strong key={i}>{p.text}</strong> : <span key={i}>{p.text}</span>));
}

/** One line with `code` and **bold**, e.g. a journal's next step. */
export function Inlines({ text }: { text: string }) {
  return <>{inline(parseInline(text))}</>;
}

/** Markdown to React elements (never HTML strings): a journal report is data, not markup. */
export function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      {parseMarkdown(text).map((b, i) => {
        switch (b.kind) {
          case 'heading': {
            const H = (['h3', 'h3', 'h4', 'h5', 'h6', 'h6'] as const)[b.level - 1] ?? 'h6';
            return <H key={i}>{inline(b.inline)}</H>;
          }
          case 'paragraph':
            return <p key={i}>{inline(b.inline)}</p>;
          case 'list': {
            const L = b.ordered ? 'ol' : 'ul';
            return (
              <L key={i}>
                {b.items.map((it, j) => (
                  <li key={j}>{inline(it)}</li>
                ))}
              </L>
            );
          }
          case 'code':
            return (
              <pre key={i} className="code">
                {b.text}
              </pre>
            );
          case 'table':
            return (
              <table key={i} className="compact">
                <thead>
                  <tr>
                    {b.head.map((h, j) => (
                      <th key={j}>{inline(h)}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {b.rows.map((r, j) => (
                    <tr key={j}>
                      {r.map((cell, k) => (
                        <td key={k}>{inline(cell)}</td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            );
          case 'rule':
            return <hr key={i} />;
        }
      })}
    </div>
  );
}
