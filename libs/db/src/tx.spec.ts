import { dialectSql } from './tx.js';

describe('dialectSql', () => {
  it('leaves SQLite text as written', () => {
    expect(dialectSql("SELECT ? WHERE a = '?'", 'sqlite')).toBe("SELECT ? WHERE a = '?'");
  });

  it('numbers the placeholders for PostgreSQL, in order', () => {
    expect(dialectSql('INSERT INTO t (a, b, c) VALUES (?, ?, ?)', 'postgres')).toBe(
      'INSERT INTO t (a, b, c) VALUES ($1, $2, $3)',
    );
  });

  it("leaves a '?' in literals, quoted identifiers, comments and dollar quotes alone", () => {
    const sql = [
      "SELECT 'what?', 'it''s ?', \"odd?column\", ? -- trailing ?",
      'FROM t /* a ? here */ WHERE b = ? AND c = $$ ? $$ AND d = $x$ ?$y$ $x$ AND e = ?',
    ].join('\n');
    expect(dialectSql(sql, 'postgres')).toBe(
      [
        "SELECT 'what?', 'it''s ?', \"odd?column\", $1 -- trailing ?",
        'FROM t /* a ? here */ WHERE b = $2 AND c = $$ ? $$ AND d = $x$ ?$y$ $x$ AND e = $3',
      ].join('\n'),
    );
  });

  it("writes ?? as PostgreSQL's own ? operator (jsonb key exists)", () => {
    expect(dialectSql("SELECT metadata ?? 'branch' FROM p WHERE id = ?", 'postgres')).toBe(
      "SELECT metadata ? 'branch' FROM p WHERE id = $1",
    );
  });

  it('does not take a positional $1 for a dollar quote', () => {
    expect(dialectSql('SELECT $1::int, ?', 'postgres')).toBe('SELECT $1::int, $1');
  });
});
