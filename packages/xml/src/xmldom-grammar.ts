import { createRequire } from 'node:module';

/**
 * xmldom 0.9's SAX parser builds its end-tag regular expressions with `grammar.reg(...)` for every end tag it reads
 * (`g.reg('^', g.QName_group, g.S_OPT, '$')` in lib/sax.js): a `new RegExp` from the several-kilobyte Unicode source
 * of an XML QName, per element. That was half of the time `parseXml` took on a 10 KB envelope. The expressions
 * have no `g` or `y` flag (no `lastIndex` state), so one object per combination of parts serves every call: `reg`
 * is wrapped once, here, with a cache keyed on the identity of its parts (strings and the grammar's own RegExp
 * objects; the set is fixed by the library's code, so the cache stays small). The results are the same
 * expressions, so parsing is unchanged.
 */
interface Grammar {
  reg: (...parts: (string | RegExp)[]) => RegExp;
  __ehmiMemo?: true;
}

type Trie = Map<unknown, Trie | RegExp>;

const LEAF = Symbol('regexp');

export function memoizeXmldomGrammar(): void {
  const grammar = createRequire(import.meta.url)('@xmldom/xmldom/lib/grammar.js') as Grammar;
  if (grammar.__ehmiMemo || typeof grammar.reg !== 'function') return;
  const reg = grammar.reg;
  const root: Trie = new Map();
  grammar.reg = function memoReg(this: unknown, ...parts: (string | RegExp)[]): RegExp {
    let node = root;
    for (const part of parts) {
      let next = node.get(part) as Trie | undefined;
      if (!next) {
        next = new Map();
        node.set(part, next);
      }
      node = next;
    }
    let expr = node.get(LEAF) as RegExp | undefined;
    if (!expr) {
      expr = reg.apply(this, parts);
      // A stateful expression (global or sticky) must not be shared; none of the grammar's are.
      if (expr.global || expr.sticky) return expr;
      node.set(LEAF, expr);
    }
    return expr;
  };
  grammar.__ehmiMemo = true;
}
